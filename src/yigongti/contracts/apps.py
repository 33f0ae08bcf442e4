from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "yigongti.contracts"
    verbose_name = "家庭医生签约"
