from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "yigongti.fhir"
    verbose_name = "FHIR R4"
