from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "yigongti.network"
    verbose_name = "医共体网络"
