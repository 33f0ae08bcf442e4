from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "yigongti.performance"
    verbose_name = "绩效考核（千分制）"
