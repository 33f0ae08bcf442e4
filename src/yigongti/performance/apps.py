from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "yigongti.performance"
    verbose_name = "绩效考核（千分制）"

    def ready(self) -> None:
        from yigongti.indicators.report_sections import register

        from .report_section import scoring_section

        register("performance_scores", scoring_section)
