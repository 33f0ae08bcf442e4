from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "yigongti.web"
    verbose_name = "页面"
