from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "yigongti.core"
    verbose_name = "基础"
