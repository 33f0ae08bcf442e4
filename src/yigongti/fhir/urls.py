"""/fhir/…: mounted by the root urls.py. Resource ids follow FHIR's [A-Za-z0-9-.]{1,64};
anything else under /fhir/ answers with an OperationOutcome, never an HTML page."""

from django.urls import path, re_path

from . import views

app_name = "fhir"

_ID = r"(?P<resource_id>[A-Za-z0-9\-.]{1,64})"

urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path("Patient", views.patient_type, name="patient-type"),
    re_path(rf"^Patient/{_ID}$", views.patient_instance, name="patient"),
    path("Organization", views.organization_type, name="organization-type"),
    re_path(rf"^Organization/{_ID}$", views.organization_instance, name="organization"),
    path("Practitioner", views.practitioner_type, name="practitioner-type"),
    re_path(rf"^Practitioner/{_ID}$", views.practitioner_instance, name="practitioner"),
    re_path(r"^(?P<path>.*)$", views.unknown, name="unknown"),
]
