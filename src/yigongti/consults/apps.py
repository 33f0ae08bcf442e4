from django.apps import AppConfig


class ConsultsConfig(AppConfig):
    name = "yigongti.consults"
    verbose_name = "远程会诊与专家下沉"
