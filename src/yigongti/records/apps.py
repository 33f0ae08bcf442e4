from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "yigongti.records"
    verbose_name = "健康档案与诊疗记录"
