"""Small builders shared by the residents tests."""

from __future__ import annotations

from datetime import date
from itertools import count

from yigongti.core.actor import Actor
from yigongti.network.models import Division
from yigongti.residents.queries import residents_visible_to
from yigongti.residents.rules import make_id_number

# An address code the synthetic county never uses, so test numbers never clash with it.
TEST_AREA = "419999"
_seq = count(101, 2)


def new_id(birth: date = date(1960, 5, 17), *, male: bool = True) -> str:
    n = next(_seq)
    return make_id_number(TEST_AREA, birth, n if male else n + 1)


def home_village(actor: Actor) -> Division:
    """A village inside the actor's area."""
    r = residents_visible_to(actor).select_related("village").first()
    assert r is not None
    return r.village


def payload(village: Division, **over: object) -> dict[str, object]:
    birth = over.pop("birth", date(1960, 5, 17))
    body: dict[str, object] = {
        "name": "测试居民",
        "sex": "1",
        "birth_date": birth.isoformat(),  # type: ignore[attr-defined]
        "doc_type": "id_card",
        "doc_number": new_id(birth),  # type: ignore[arg-type]
        "phone": "13800138000",
        "village_code": village.code,
        "address": f"{village.name}8号",
    }
    body.update(over)
    return body
