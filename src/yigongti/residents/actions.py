"""Every write to the master patient index: one transaction, permission-checked, audited."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden
from yigongti.core.ids import luhn_digit, reserve_numbers
from yigongti.network.models import Division, DivisionLevel

from . import rules
from .linkage import candidates_for
from .models import (
    CandidateStatus,
    CardIssuer,
    CardKind,
    CardStatus,
    DocType,
    DuplicateCandidate,
    HealthCard,
    Household,
    MergeRecord,
    Resident,
    ResidentStatus,
    Sex,
)
from .queries import card_secret, in_scope, survivor_of

DOC_OTHER_RE = re.compile(r"^[0-9A-Za-z\-()（）]{4,32}$")


@dataclass
class ResidentInput:
    """What registering or editing a resident takes (the UI form, the REST API and FHIR
    Patient all build one)."""

    name: str = ""
    sex: str = ""
    birth_date: date | None = None
    doc_type: str = DocType.ID_CARD
    doc_number: str = ""
    phone: str = ""
    village_code: str = ""
    address: str = ""
    household_key: str = ""


def _today() -> date:
    return timezone.localdate()


def validate_resident_input(data: ResidentInput) -> tuple[dict[str, Any], list[FieldError]]:
    """Check and normalise every field; collect all errors so the form shows them at once."""
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}

    def fail(exc: rules.RuleError) -> None:
        errors.append(FieldError(exc.field, exc.msg_zh, exc.msg_en, exc.code))

    try:
        clean["name"] = rules.validate_name(data.name)
    except rules.RuleError as exc:
        fail(exc)
    if data.sex not in Sex.values:
        errors.append(FieldError("sex", "请选择性别", "sex is required (0, 1, 2 or 9)", "required"))
    else:
        clean["sex"] = data.sex
    today = _today()
    if data.birth_date is None:
        errors.append(
            FieldError("birth_date", "请填写出生日期", "birth_date is required", "required")
        )
    elif data.birth_date > today:
        errors.append(
            FieldError(
                "birth_date", "出生日期不能晚于今天", "birth_date is in the future", "future"
            )
        )
    elif data.birth_date < date(1900, 1, 1):
        errors.append(
            FieldError(
                "birth_date", "出生日期不能早于1900年", "birth_date is before 1900", "too_old"
            )
        )
    else:
        clean["birth_date"] = data.birth_date

    if data.doc_type not in DocType.values:
        errors.append(FieldError("doc_type", "证件类型无效", "unknown doc_type", "invalid"))
    else:
        clean["doc_type"] = data.doc_type
        number = (data.doc_number or "").strip()
        if data.doc_type == DocType.ID_CARD:
            try:
                parsed = rules.parse_id_number(number, today=today)
            except rules.RuleError as exc:
                fail(exc)
            else:
                clean["doc_number"] = parsed.number
                for disagreement in rules.check_id_agrees(
                    parsed,
                    birth_date=data.birth_date,
                    sex=data.sex if data.sex in Sex.values else None,
                ):
                    fail(disagreement)
        elif data.doc_type == DocType.NONE:
            if number:
                errors.append(
                    FieldError(
                        "doc_number",
                        "“暂无证件”时不应填写证件号码",
                        "doc_number must be empty when doc_type is none",
                    )
                )
            clean["doc_number"] = ""
        else:
            number = rules.normalize_id_number(number).upper()
            if not DOC_OTHER_RE.match(number):
                errors.append(
                    FieldError(
                        "doc_number",
                        "证件号码应为4–32位字母或数字",
                        "doc_number must be 4-32 letters or digits",
                        "format",
                    )
                )
            clean["doc_number"] = number
    try:
        clean["phone"] = rules.validate_phone(data.phone or "")
    except rules.RuleError as exc:
        fail(exc)
    village = Division.objects.filter(
        code=(data.village_code or "").strip(), level=DivisionLevel.VILLAGE
    ).first()
    if village is None:
        errors.append(
            FieldError(
                "village_code",
                "请选择所属村（村级区划代码）",
                "village_code must be a village division code",
                "required",
            )
        )
    else:
        clean["village"] = village
    address = (data.address or "").strip()
    if len(address) > 200:
        errors.append(FieldError("address", "住址不能超过200字", "address is over 200 characters"))
    clean["address"] = address
    clean["household_key"] = (data.household_key or "").strip()[:32]
    return clean, errors


def township_of(village: Division) -> int:
    if village.parent_id is None:  # the network page refuses such villages; data loads too
        raise DomainError.single(
            "village_code", "该村未挂靠乡镇", "The village has no township", "no_township"
        )
    return village.parent_id


def _pointer(existing: Resident) -> dict[str, object]:
    """What a refused duplicate registration points at (no personal data beyond the name)."""
    return {
        "mpi_id": existing.mpi_id,
        "name": existing.name,
        "village": existing.village.name if existing.village_id else "",
        "registered_at": existing.registered_at.name if existing.registered_at else "",
    }


def _existing_same_document(doc_type: str, doc_number: str) -> Resident | None:
    if not doc_number:
        return None
    return (
        Resident.objects.select_related("village", "registered_at")
        .filter(doc_type=doc_type, doc_number=doc_number, status=ResidentStatus.ACTIVE)
        .first()
    )


def _duplicate_conflict(existing: Resident) -> Conflict:
    return Conflict(
        FieldError(
            "doc_number",
            f"该证件号已建档：{existing.name}（主索引号 {existing.mpi_id}）",
            f"Already registered as {existing.mpi_id}",
            "duplicate",
        ),
        extra={"existing": _pointer(existing)},
    )


def new_mpi_ids(county_code: str, count: int) -> list[str]:
    """Index numbers: 6-digit county code + 9-digit sequence + Luhn check digit."""
    return [
        f"{county_code}{n:09d}{luhn_digit(f'{county_code}{n:09d}')}"
        for n in reserve_numbers("resident_mpi", count)
    ]


def local_card_for(doc_type: str, doc_number: str, mpi_id: str) -> tuple[str, str]:
    """(card_id, kind) for a card this platform issues: formal when derived from an
    identity document, temporary (就诊卡) for a resident without one."""
    if doc_number:
        kind = CardKind.FORMAL if doc_type == DocType.ID_CARD else CardKind.TEMPORARY
        return rules.derive_card_id(card_secret(), doc_type, doc_number), kind
    return rules.derive_local_card_id(card_secret(), mpi_id), CardKind.TEMPORARY


def do_register_resident(
    actor: Actor, data: ResidentInput, *, confirm_new_person: bool = False
) -> Resident:
    """Register a resident, give them an index number and a health card. Refuses a second
    registration of the same document (pointing at the first), and a no-document record that
    matches an existing one on name, sex, birth date and village unless confirmed."""
    if not (actor.is_system or actor.can("register_resident")):
        raise Forbidden("无权建档", "Not allowed to register residents")
    clean, errors = validate_resident_input(data)
    if errors:
        raise DomainError(errors)
    village: Division = clean["village"]
    probe = Resident(village=village, township_id=township_of(village))
    if not in_scope(actor, probe):
        raise DomainError.single(
            "village_code",
            "只能为本辖区的居民建档",
            "You can only register residents of your own area",
            "out_of_scope",
            status=403,
        )
    existing = _existing_same_document(clean["doc_type"], clean["doc_number"])
    if existing is not None:
        raise _duplicate_conflict(existing)
    if not clean["doc_number"] and not confirm_new_person:
        twin = (
            Resident.objects.select_related("village", "registered_at")
            .filter(
                name=clean["name"],
                sex=clean["sex"],
                birth_date=clean["birth_date"],
                village=village,
                status=ResidentStatus.ACTIVE,
            )
            .first()
        )
        if twin is not None:
            raise Conflict(
                FieldError(
                    "name",
                    f"本村已有同名同生日的居民（主索引号 {twin.mpi_id}），"
                    "如确为不同的人请勾选“确认新建”",
                    f"A resident with the same name and birth date exists "
                    f"({twin.mpi_id}); confirm to register another person",
                    "possible_duplicate",
                ),
                extra={"existing": _pointer(twin)},
            )
    county_code = village.code[:6]
    try:
        with transaction.atomic():
            household = None
            if clean["household_key"]:
                household, _ = Household.objects.get_or_create(
                    key=clean["household_key"],
                    defaults={"village": village, "address": clean["address"]},
                )
            mpi_id = new_mpi_ids(county_code, 1)[0]
            resident = Resident(
                mpi_id=mpi_id,
                name=clean["name"],
                sex=clean["sex"],
                birth_date=clean["birth_date"],
                doc_type=clean["doc_type"],
                doc_number=clean["doc_number"],
                phone=clean["phone"],
                address=clean["address"],
                village=village,
                township_id=township_of(village),
                household=household,
                registered_at_id=actor.facility_id,
                created_by_id=actor.user_id,
            )
            resident.refresh_search_keys()
            resident.save()
            card_id, kind = local_card_for(resident.doc_type, resident.doc_number, mpi_id)
            HealthCard.objects.create(
                card_id=card_id,
                resident=resident,
                kind=kind,
                issuer=CardIssuer.LOCAL,
                issuing_org=actor.facility_name or "平台",
            )
            audit.record(
                actor,
                audit.Action.CREATE,
                "resident",
                mpi_id,
                resident_id=resident.pk,
                detail={"doc_type": resident.doc_type},
            )
            candidates_for(resident)
    except IntegrityError as exc:
        # A concurrent registration of the same document won the race.
        existing = _existing_same_document(clean["doc_type"], clean["doc_number"])
        if existing is not None:
            raise _duplicate_conflict(existing) from exc
        raise
    return resident


EDITABLE = (
    "name",
    "sex",
    "birth_date",
    "doc_type",
    "doc_number",
    "phone",
    "village_code",
    "address",
    "household_key",
)


def input_from(resident: Resident) -> ResidentInput:
    return ResidentInput(
        name=resident.name,
        sex=resident.sex,
        birth_date=resident.birth_date,
        doc_type=resident.doc_type,
        doc_number=resident.doc_number,
        phone=resident.phone,
        village_code=resident.village.code,
        address=resident.address,
        household_key=resident.household.key if resident.household else "",
    )


def do_update_resident(actor: Actor, resident: Resident, changes: dict[str, Any]) -> Resident:
    """Correct a resident's identifying data. The audit entry lists which fields changed."""
    if not (actor.is_system or actor.can("edit_resident")) or not in_scope(actor, resident):
        raise Forbidden("无权修改该居民档案", "Not allowed to edit this resident")
    if resident.is_merged:
        raise DomainError.single(
            "mpi_id",
            "该档案已合并，请修改合并后的档案",
            "This record was merged; edit the surviving record",
        )
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(
            [FieldError(f, "该字段不可修改", "field cannot be changed") for f in sorted(unknown)]
        )
    data = input_from(resident)
    for k, v in changes.items():
        setattr(data, k, v)
    clean, errors = validate_resident_input(data)
    if errors:
        raise DomainError(errors)
    village: Division = clean["village"]
    if not in_scope(actor, Resident(village=village, township_id=township_of(village))):
        raise DomainError.single(
            "village_code",
            "不能将居民迁出到您无权管理的村",
            "You cannot move a resident outside your area",
            "out_of_scope",
        )
    existing = _existing_same_document(clean["doc_type"], clean["doc_number"])
    if existing is not None and existing.pk != resident.pk:
        raise _duplicate_conflict(existing)
    changed: list[str] = []
    for f in ("name", "sex", "birth_date", "doc_type", "doc_number", "phone", "address"):
        if getattr(resident, f) != clean[f]:
            setattr(resident, f, clean[f])
            changed.append(f)
    if resident.village_id != village.pk:
        resident.village = village
        resident.township_id = township_of(village)
        changed.append("village")
    resident.refresh_search_keys()
    try:
        with transaction.atomic():
            if clean["household_key"] != (resident.household.key if resident.household else ""):
                resident.household = None
                if clean["household_key"]:
                    resident.household, _ = Household.objects.get_or_create(
                        key=clean["household_key"],
                        defaults={"village": village, "address": clean["address"]},
                    )
                changed.append("household")
            resident.save()
            audit.record(
                actor,
                audit.Action.UPDATE,
                "resident",
                resident.mpi_id,
                resident_id=resident.pk,
                detail={"fields": changed},
            )
    except IntegrityError as exc:
        existing = _existing_same_document(clean["doc_type"], clean["doc_number"])
        if existing is not None:
            raise _duplicate_conflict(existing) from exc
        raise
    return resident


# --- health cards --------------------------------------------------------------------------


def do_attach_external_card(
    actor: Actor,
    resident: Resident,
    card_id: str,
    *,
    kind: str = CardKind.FORMAL,
    issuing_org: str = "",
) -> HealthCard:
    """Bind a card issued elsewhere (e.g. by the provincial platform) to a resident."""
    if not (actor.is_system or actor.can("manage_cards")) or not in_scope(actor, resident):
        raise Forbidden("无权绑定电子健康卡", "Not allowed to attach cards")
    try:
        normalized = rules.normalize_card_id(card_id)
    except rules.RuleError as exc:
        raise DomainError.single("card_id", exc.msg_zh, exc.msg_en, exc.code) from exc
    if kind not in CardKind.values:
        raise DomainError.single(
            "kind", "卡类型应为 1（临时）或 2（正式）", "kind must be 1 (temporary) or 2 (formal)"
        )
    holder = HealthCard.objects.select_related("resident").filter(card_id=normalized).first()
    if holder is not None:
        if survivor_of(holder.resident).pk == resident.pk:
            return holder  # already attached: a retry changes nothing
        raise Conflict(
            FieldError(
                "card_id",
                "该卡号已绑定其他居民",
                "card already bound to another resident",
                "duplicate",
            )
        )
    with transaction.atomic():
        card = HealthCard.objects.create(
            card_id=normalized,
            resident=resident,
            kind=kind,
            issuer=CardIssuer.EXTERNAL,
            issuing_org=issuing_org.strip()[:100],
        )
        audit.record(
            actor,
            audit.Action.CREATE,
            "health_card",
            normalized[:8],
            resident_id=resident.pk,
            detail={"issuer": "external"},
        )
    return card


def do_set_card_status(actor: Actor, card: HealthCard, status: str, reason: str = "") -> HealthCard:
    if not (actor.is_system or actor.can("manage_cards")) or not in_scope(
        actor, survivor_of(card.resident)
    ):
        raise Forbidden("无权修改电子健康卡状态", "Not allowed to change card status")
    if status not in CardStatus.values:
        raise DomainError.single(
            "status",
            "卡状态应为 1（正常）或 2（挂失/暂停）",
            "status must be 1 (normal) or 2 (suspended)",
        )
    with transaction.atomic():
        card.status = status
        card.status_reason = reason.strip()[:200]
        card.save(update_fields=["status", "status_reason"])
        audit.record(
            actor,
            audit.Action.UPDATE,
            "health_card",
            card.card_id[:8],
            resident_id=card.resident_id,
            detail={"status": status},
        )
    return card


def dynamic_qr(card: HealthCard, *, now: datetime | None = None) -> tuple[str, datetime]:
    valid_until = (now or timezone.now()) + timedelta(seconds=settings.YGT["DYNAMIC_QR_SECONDS"])
    return rules.dynamic_qr_text(
        card.card_id, valid_until=valid_until, secret=card_secret()
    ), valid_until


# --- merge -------------------------------------------------------------------------------

FILLABLE = ("doc_type", "doc_number", "phone", "address", "household_id")


def do_merge_residents(
    actor: Actor, survivor: Resident, merged: Resident, *, reason: str = ""
) -> MergeRecord:
    """Merge `merged` into `survivor`. Nothing is moved or deleted: the merged row points at
    the survivor, so its index number and cards resolve there, and histories are read over
    `identity_ids(survivor)`. Blank identifying fields of the survivor are filled from the
    merged record (remembered, so undo restores them)."""
    if not (actor.is_system or actor.can("merge_residents")):
        raise Forbidden("无权合并档案", "Not allowed to merge records")
    if survivor.pk == merged.pk:
        raise DomainError.single(
            "merged", "不能把档案合并到它自己", "Cannot merge a record into itself", "same_record"
        )
    for field_name, r in (("survivor", survivor), ("merged", merged)):
        if r.is_merged:
            raise DomainError.single(
                field_name,
                f"档案 {r.mpi_id} 已被合并",
                f"{r.mpi_id} is already merged",
                "already_merged",
            )
        if not in_scope(actor, r):
            raise Forbidden("只能合并本辖区的档案", "Both records must be in your area")
    with transaction.atomic():
        locked = {
            r.pk: r
            for r in Resident.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk])
        }
        if any(r.status != ResidentStatus.ACTIVE for r in locked.values()):
            raise DomainError.single(
                "merged",
                "档案已被他人合并，请刷新",
                "Already merged by someone else",
                "already_merged",
            )
        filled: dict[str, Any] = {}
        take_document = not survivor.doc_number and merged.doc_number
        merged.status = ResidentStatus.MERGED
        merged.merged_into = survivor
        merged.save(update_fields=["status", "merged_into", "updated_at"])
        for f in FILLABLE:
            if f in ("doc_type", "doc_number") and not take_document:
                continue
            if not getattr(survivor, f) and getattr(merged, f):
                filled[f] = getattr(survivor, f)
                setattr(survivor, f, getattr(merged, f))
        if filled:
            survivor.refresh_search_keys()
            survivor.save()
        record = MergeRecord.objects.create(
            survivor=survivor,
            merged=merged,
            reason=reason.strip()[:200],
            filled=filled,
            merged_by_id=actor.user_id,
        )
        DuplicateCandidate.objects.filter(
            first_id=min(survivor.pk, merged.pk), second_id=max(survivor.pk, merged.pk)
        ).update(
            status=CandidateStatus.MERGED, reviewed_by_id=actor.user_id, reviewed_at=timezone.now()
        )
        audit.record(
            actor,
            audit.Action.MERGE,
            "resident",
            survivor.mpi_id,
            resident_id=survivor.pk,
            detail={"merged": merged.mpi_id, "filled": sorted(filled), "merge": record.pk},
        )
    return record


def do_undo_merge(actor: Actor, record: MergeRecord) -> MergeRecord:
    """Undo a merge: the merged record stands on its own again and the survivor gets back
    the blank fields the merge had filled (where nobody changed them since)."""
    if not (actor.is_system or actor.can("merge_residents")):
        raise Forbidden("无权撤销合并", "Not allowed to undo merges")
    if record.undone_at is not None:
        raise DomainError.single(
            "merge", "该合并已撤销", "This merge was already undone", "already_undone"
        )
    with transaction.atomic():
        survivor = Resident.objects.select_for_update().get(pk=record.survivor_id)
        merged = Resident.objects.select_for_update().get(pk=record.merged_id)
        if not in_scope(actor, survivor):
            raise Forbidden("只能撤销本辖区的合并", "Only merges in your area")
        if merged.merged_into_id != survivor.pk:
            raise DomainError.single(
                "merge",
                "档案已再次变更，无法撤销此合并",
                "Records changed since; cannot undo",
                "stale",
            )
        for f, old in record.filled.items():
            if getattr(survivor, f) == getattr(merged, f):
                setattr(survivor, f, old)
        survivor.refresh_search_keys()
        survivor.save()
        merged.status = ResidentStatus.ACTIVE
        merged.merged_into = None
        try:
            with transaction.atomic():
                merged.save(update_fields=["status", "merged_into", "updated_at"])
        except IntegrityError as exc:
            raise DomainError.single(
                "merge",
                "被合并档案的证件号已被其他在档居民使用，无法撤销",
                "Its document number is now used by another record",
                "conflict",
            ) from exc
        record.undone_at = timezone.now()
        record.undone_by_id = actor.user_id
        record.save(update_fields=["undone_at", "undone_by"])
        DuplicateCandidate.objects.filter(
            first_id=min(survivor.pk, merged.pk), second_id=max(survivor.pk, merged.pk)
        ).update(status=CandidateStatus.OPEN, reviewed_by=None, reviewed_at=None)
        audit.record(
            actor,
            audit.Action.UNMERGE,
            "resident",
            survivor.mpi_id,
            resident_id=survivor.pk,
            detail={"merged": merged.mpi_id, "merge": record.pk},
        )
    return record


def do_dismiss_duplicate(actor: Actor, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """An administrator judged the pair to be two different people."""
    if not (actor.is_system or actor.can("merge_residents")):
        raise Forbidden("无权审核重复档案", "Not allowed to review duplicates")
    with transaction.atomic():
        candidate.status = CandidateStatus.DISMISSED
        candidate.reviewed_by_id = actor.user_id
        candidate.reviewed_at = timezone.now()
        candidate.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        audit.record(
            actor,
            audit.Action.UPDATE,
            "duplicate_candidate",
            candidate.pk,
            detail={"status": "dismissed"},
        )
    return candidate


def input_fields() -> list[str]:
    return [f.name for f in fields(ResidentInput)]
