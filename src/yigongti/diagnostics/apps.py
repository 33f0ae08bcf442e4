from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "yigongti.diagnostics"
    verbose_name = "共享诊断中心"
