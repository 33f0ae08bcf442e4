from django.apps import AppConfig


class ResidentsConfig(AppConfig):
    name = "yigongti.residents"
    verbose_name = "居民主索引"
