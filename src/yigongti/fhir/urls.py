"""/fhir/…: mounted by the root urls.py. Resource ids follow FHIR's [A-Za-z0-9-.]{1,64};
anything else under /fhir/ answers with an OperationOutcome, never an HTML page."""

from django.urls import path, re_path

from . import (
    careplans,
    clinical_views,
    locations,
    measure_views,
    referrals,
    scheduling,
    service_requests,
    views,
)

app_name = "fhir"

_ID = r"(?P<resource_id>[A-Za-z0-9\-.]{1,64})"

urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path("", clinical_views.root, name="root"),
    path("$import", clinical_views.bulk_import, name="import"),
    re_path(rf"^Patient/{_ID}/\$everything$", clinical_views.patient_everything, name="everything"),
    path("Patient", views.patient_type, name="patient-type"),
    re_path(rf"^Patient/{_ID}$", views.patient_instance, name="patient"),
    path("Organization", views.organization_type, name="organization-type"),
    re_path(rf"^Organization/{_ID}$", views.organization_instance, name="organization"),
    path("Practitioner", views.practitioner_type, name="practitioner-type"),
    re_path(rf"^Practitioner/{_ID}$", views.practitioner_instance, name="practitioner"),
    *[
        p
        for t in clinical_views.CLINICAL_TYPES
        for p in (
            path(t, clinical_views.TYPE_VIEWS[t], name=f"{t.lower()}-type"),
            re_path(rf"^{t}/{_ID}$", clinical_views.INSTANCE_VIEWS[t], name=t.lower()),
        )
    ],
    path("CareTeam", careplans.care_team_type, name="careteam-type"),
    re_path(rf"^CareTeam/{_ID}$", careplans.care_team_instance, name="careteam"),
    path("CarePlan", careplans.care_plan_type, name="careplan-type"),
    re_path(rf"^CarePlan/{_ID}$", careplans.care_plan_instance, name="careplan"),
    path("ServiceRequest", service_requests.service_request_type, name="servicerequest-type"),
    re_path(
        rf"^ServiceRequest/{_ID}$",
        service_requests.service_request_instance,
        name="servicerequest",
    ),
    path("Task", referrals.task_type, name="task-type"),
    re_path(rf"^Task/{_ID}$", referrals.task_instance, name="task"),
    path("Schedule", scheduling.schedule_type, name="schedule-type"),
    re_path(rf"^Schedule/{_ID}$", scheduling.schedule_instance, name="schedule"),
    path("Slot", scheduling.slot_type, name="slot-type"),
    re_path(rf"^Slot/{_ID}$", scheduling.slot_instance, name="slot"),
    path("Appointment", scheduling.appointment_type, name="appointment-type"),
    re_path(rf"^Appointment/{_ID}$", scheduling.appointment_instance, name="appointment"),
    path("Location", locations.location_type, name="location-type"),
    re_path(rf"^Location/{_ID}$", locations.location_instance, name="location"),
    path("Measure", measure_views.measure_type, name="measure-type"),
    re_path(r"^Measure/\$evaluate-measure$", measure_views.evaluate_type, name="evaluate-measure"),
    re_path(
        rf"^Measure/{_ID}/\$evaluate-measure$",
        measure_views.evaluate_instance,
        name="measure-evaluate-measure",
    ),
    re_path(rf"^Measure/{_ID}$", measure_views.measure_instance, name="measure"),
    path("MeasureReport", measure_views.measure_report_type, name="measurereport-type"),
    re_path(rf"^MeasureReport/{_ID}$", measure_views.measure_report_instance, name="measurereport"),
    re_path(r"^(?P<path>.*)$", views.unknown, name="unknown"),
]
