from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "yigongti.indicators"
    verbose_name = "监测指标与绩效考核"
