from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "yigongti.scheduling"
    verbose_name = "预约与号源"
