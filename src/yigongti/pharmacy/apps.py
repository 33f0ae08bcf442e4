from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "yigongti.pharmacy"
    verbose_name = "药品耗材"
