from django.apps import AppConfig


class ChronicConfig(AppConfig):
    name = "yigongti.chronic"
    verbose_name = "慢性病管理"
