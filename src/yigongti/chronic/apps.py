from django.apps import AppConfig


class ChronicConfig(AppConfig):
    name = "yigongti.chronic"
    verbose_name = "慢性病管理"

    def ready(self) -> None:
        from django.conf import settings

        from . import rules

        rules.configure_diseases((getattr(settings, "YGT", {}) or {}).get("CHRONIC_DISEASES"))
