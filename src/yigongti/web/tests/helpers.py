"""Builders shared by the page tests."""

from __future__ import annotations

from datetime import date

from yigongti.core.actor import Actor
from yigongti.network.models import Division
from yigongti.residents import actions
from yigongti.residents.models import Resident
from yigongti.residents.tests.helpers import home_village, new_id


def form_data(village: Division, **over: object) -> dict[str, object]:
    birth = over.pop("birth", date(1961, 8, 23))
    assert isinstance(birth, date)
    sex = str(over.get("sex", "2"))
    data: dict[str, object] = {
        "name": "欧阳娜娜",
        "sex": sex,
        "birth_date": birth.isoformat(),
        "doc_type": "id_card",
        "doc_number": "" if "doc_number" in over else new_id(birth, male=sex == "1"),
        "phone": "13912345678",
        "village_code": village.code,
        "address": f"{village.name}18号",
        "household_key": "",
    }
    data.update(over)
    return data


def register(actor: Actor, **over: object) -> Resident:
    """Register through the action (for tests whose subject is another page)."""
    village = over.pop("village", None) or home_village(actor)
    assert isinstance(village, Division)
    data = form_data(village, **over)
    confirm = bool(data.pop("confirm_new_person", False))
    birth = date.fromisoformat(str(data.pop("birth_date")))
    return actions.do_register_resident(
        actor,
        actions.ResidentInput(birth_date=birth, **{k: str(v) for k, v in data.items()}),
        confirm_new_person=confirm,
    )
