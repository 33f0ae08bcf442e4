"""Builders and checks shared by the FHIR tests."""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from django.conf import settings

from yigongti.core.actor import Actor
from yigongti.fhir import systems
from yigongti.fhir.validation import validate_resource
from yigongti.network.models import Division
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to
from yigongti.residents.rules import make_id_number

FHIR_JSON = "application/fhir+json"
# An address code the synthetic county never uses (the residents tests use 419999).
TEST_AREA = "419998"
_seq = count(101, 2)


def new_id(birth: date = date(1961, 4, 12), *, male: bool = True) -> str:
    n = next(_seq)
    return make_id_number(TEST_AREA, birth, n if male else n + 1)


def base() -> str:
    return str(settings.YGT["IDENTIFIER_BASE"])


def assert_valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource validates as R4 (fhir.resources R4B models, required bindings too);
    a Bundle validates with every entry in it."""
    validate_resource(resource, resource["resourceType"])
    return resource


def home_resident(actor: Actor) -> Resident:
    r = (
        residents_visible_to(actor)
        .exclude(doc_number="")
        .filter(doc_type="id_card")
        .select_related("village", "township")
        .order_by("pk")
        .first()
    )
    assert r is not None
    return r


def home_village(actor: Actor) -> Division:
    return home_resident(actor).village


def patient_body(village: Division, **over: Any) -> dict[str, Any]:
    """A valid R4 Patient for a new resident of `village`."""
    birth: date = over.pop("birth", date(1961, 4, 12))
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [
            {"system": systems.ID_CARD_SYSTEM, "value": over.pop("doc_number", new_id(birth))}
        ],
        "name": [{"use": "official", "text": over.pop("name", "测试患者")}],
        "gender": over.pop("gender", "male"),
        "birthDate": birth.isoformat(),
        "telecom": [{"system": "phone", "value": "13900139000", "use": "mobile"}],
        "address": [
            {
                "use": "home",
                "line": [f"{village.name}6号"],
                "extension": [
                    {"url": systems.division_code_extension(), "valueCode": village.code}
                ],
            }
        ],
    }
    body.update(over)
    return body


def post_json(client: Any, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, body, content_type=FHIR_JSON, headers=headers)


def put_json(client: Any, url: str, body: Any) -> Any:
    return client.put(url, body, content_type=FHIR_JSON)


def issues(resp: Any) -> list[dict[str, Any]]:
    data = resp.json()
    assert data["resourceType"] == "OperationOutcome", data
    assert_valid(data)
    return list(data["issue"])


def expressions(resp: Any) -> set[str]:
    return {e for i in issues(resp) for e in i.get("expression", [])}
