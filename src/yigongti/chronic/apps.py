from django.apps import AppConfig


class ChronicConfig(AppConfig):
    name = "yigongti.chronic"
    verbose_name = "慢性病管理"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_save

        from yigongti.residents.models import Resident

        from . import rules, signals

        post_save.connect(signals.follow_resident, sender=Resident, dispatch_uid="chronic-follow")

        rules.configure_diseases((getattr(settings, "YGT", {}) or {}).get("CHRONIC_DISEASES"))
