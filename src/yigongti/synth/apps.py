from django.apps import AppConfig


class SynthConfig(AppConfig):
    name = "yigongti.synth"
    verbose_name = "合成县数据"
