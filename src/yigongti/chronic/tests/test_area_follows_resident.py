"""A registration carries its resident's village and township (the worklists' columns);
when the resident moves, the registration moves with them: the old village's doctor no
longer sees it, the new township's does."""

from __future__ import annotations

import pytest

from yigongti.chronic import queries
from yigongti.network.models import Division
from yigongti.residents.actions import do_update_resident

from .helpers import enrol, residents_of

pytestmark = pytest.mark.django_db


def test_enrolment_copies_the_area_and_a_move_updates_it(actor):
    doc = actor("village_doctor")
    township_doc = actor("township_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    assert (reg.village_id, reg.township_id) == (r.village_id, r.township_id)
    assert queries.registrations_visible_to(doc).filter(pk=reg.pk).exists()
    other = (
        Division.objects.filter(parent_id=r.township_id, level="village")
        .exclude(pk=r.village_id)
        .order_by("pk")
        .first()
    )
    assert other is not None
    do_update_resident(township_doc, r, {"village_code": other.code})
    reg.refresh_from_db()
    assert (reg.village_id, reg.township_id) == (other.pk, r.township_id)
    assert not queries.registrations_visible_to(doc).filter(pk=reg.pk).exists()
    assert queries.registrations_visible_to(township_doc).filter(pk=reg.pk).exists()


def test_outsider_sees_no_registration_of_the_area(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    assert not queries.registrations_visible_to(actor("outsider_doctor")).filter(pk=reg.pk).exists()
    assert not queries.worklist(actor("outsider_doctor")).filter(pk=reg.pk).exists()
