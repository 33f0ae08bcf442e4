"""Database reads the facade needs on top of the domain queries: the extras a Patient shows
(cards, merged records) for a whole page at once, and network lookups by FHIR id.

Residents always come from `residents.queries` (scoped and audited there); what is read
here only hangs off rows the actor was already allowed to see. The network is not personal
data and is readable by every signed-in staff member (network.queries)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import NotFound
from yigongti.network.models import Facility, MedicalGroup, Staff
from yigongti.network.queries import facilities_visible_to
from yigongti.records.models import Diagnosis
from yigongti.residents.models import CardStatus, HealthCard, Resident
from yigongti.residents.queries import in_scope, survivor_of

from .mapping import GROUP_PREFIX, ID_RE, PatientExtras


def patient_extras(residents: Sequence[Resident], *, with_cards: bool) -> dict[int, PatientExtras]:
    """For each resident: the index numbers of the records merged into it (recursively, as
    `queries.identity_ids` does for one) and, if asked, its usable health cards (those of the
    merged records included). A fixed number of queries per merge depth, not per row."""
    root_of = {r.pk: r.pk for r in residents}
    extras = {r.pk: PatientExtras() for r in residents}
    frontier = list(root_of)
    while frontier:
        rows = list(
            Resident.objects.filter(merged_into_id__in=frontier)
            .order_by("mpi_id")
            .values_list("pk", "merged_into_id", "mpi_id")
        )
        frontier = []
        for pk, into, mpi_id in rows:
            if pk in root_of:  # defensive: merges never form a cycle
                continue
            root_of[pk] = root_of[into]
            extras[root_of[pk]].merged_mpi_ids.append(mpi_id)
            frontier.append(pk)
    if with_cards:
        cards = HealthCard.objects.filter(
            resident_id__in=list(root_of), status=CardStatus.NORMAL
        ).order_by("-issued_at", "pk")
        for card in cards:
            extras[root_of[card.resident_id]].cards.append(card)
    return extras


def merged_record(mpi_id: str) -> Resident | None:
    """The row of a merged record itself (get_resident_for answers with its survivor)."""
    return Resident.objects.filter(mpi_id=mpi_id).first()


# --- network ---------------------------------------------------------------------------


def facilities(actor: Actor) -> QuerySet[Facility]:
    return facilities_visible_to(actor).select_related("group", "division")


def groups(actor: Actor) -> QuerySet[MedicalGroup]:
    return MedicalGroup.objects.select_related("county")


def staff(actor: Actor) -> QuerySet[Staff]:
    return Staff.objects.all()


def facility_by_resource_id(actor: Actor, resource_id: str) -> Facility | None:
    qs = facilities(actor)
    found = qs.filter(code=resource_id).first()
    if found is None and resource_id.startswith("facility-") and resource_id[9:].isdigit():
        found = qs.filter(pk=int(resource_id[9:])).first()
    return found


def group_by_resource_id(actor: Actor, resource_id: str) -> MedicalGroup | None:
    if not resource_id.startswith(GROUP_PREFIX):
        return None
    key = resource_id[len(GROUP_PREFIX) :]
    found = groups(actor).filter(code=key).first()
    if found is None and key.isdigit():
        found = groups(actor).filter(pk=int(key)).first()
    return found


def staff_by_resource_id(actor: Actor, resource_id: str) -> Staff | None:
    if not (resource_id.isdigit() and ID_RE.match(resource_id)):
        return None
    return staff(actor).filter(pk=int(resource_id)).first()


# --- the clinical record ---------------------------------------------------------------


def get_diagnosis_for(actor: Actor, pk: int) -> Diagnosis:
    """A diagnosis (FHIR Condition), scoped and audited like every record read
    (records.queries has no getter for diagnoses: they are parts of an encounter)."""
    d = Diagnosis.objects.select_related("resident", "encounter__facility").filter(pk=pk).first()
    if d is None:
        raise NotFound("诊断")
    person = survivor_of(d.resident)
    if not in_scope(actor, person):
        audit.record(
            actor,
            audit.Action.DENIED,
            "diagnosis",
            str(pk),
            resident_id=person.pk,
            detail={"purpose": "view"},
        )
        raise NotFound("诊断")
    audit.record(actor, audit.Action.READ, "diagnosis", str(pk), resident_id=person.pk)
    return d
