from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "yigongti.referrals"
    verbose_name = "双向转诊"
