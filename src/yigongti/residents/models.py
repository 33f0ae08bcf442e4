"""The master patient index (患者主索引), households and the electronic health card."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from yigongti.network.models import Division, Facility


class Sex(models.TextChoices):
    """GB/T 2261.1."""

    UNKNOWN = "0", "未知"
    MALE = "1", "男"
    FEMALE = "2", "女"
    UNSPECIFIED = "9", "未说明"


class DocType(models.TextChoices):
    ID_CARD = "id_card", "居民身份证"
    BIRTH_CERTIFICATE = "birth_certificate", "出生医学证明"
    PASSPORT = "passport", "护照"
    HK_MACAO_PERMIT = "hk_macao_permit", "港澳居民来往内地通行证"
    TAIWAN_PERMIT = "taiwan_permit", "台湾居民来往大陆通行证"
    FOREIGNER_PR = "foreigner_pr", "外国人永久居留身份证"
    OTHER = "other", "其他证件"
    NONE = "none", "暂无证件"


class ResidentStatus(models.TextChoices):
    ACTIVE = "active", "在档"
    MERGED = "merged", "已合并"


class Household(models.Model):
    key = models.CharField("户编号", max_length=32, unique=True)
    village = models.ForeignKey(
        Division, verbose_name="村", on_delete=models.PROTECT, related_name="households"
    )
    address = models.CharField("住址", max_length=200, blank=True)

    class Meta:
        verbose_name = "家庭户"
        verbose_name_plural = "家庭户"

    def __str__(self) -> str:
        return self.key


def _pattern_index(field: str, name: str) -> models.Index:
    # varchar_pattern_ops lets PostgreSQL use the index for LIKE 'abc%' under any collation;
    # other databases ignore opclasses and build a plain index.
    return models.Index(fields=[field], name=name, opclasses=["varchar_pattern_ops"])


class Resident(models.Model):
    """One person in the county's master index. A merged record keeps its row and points
    at its survivor, so its old index number and cards still resolve."""

    mpi_id = models.CharField("主索引号", max_length=20, unique=True)
    name = models.CharField("姓名", max_length=30)
    name_pinyin = models.CharField("姓名拼音", max_length=120, blank=True)
    name_initials = models.CharField("拼音首字母", max_length=30, blank=True)
    sex = models.CharField("性别", max_length=1, choices=Sex.choices)
    birth_date = models.DateField("出生日期")
    doc_type = models.CharField("证件类型", max_length=20, choices=DocType.choices)
    doc_number = models.CharField("证件号码", max_length=32, blank=True)
    doc_rev = models.CharField(
        max_length=32, blank=True, editable=False
    )  # reversed, for tail search
    phone = models.CharField("联系电话", max_length=20, blank=True)
    phone_rev = models.CharField(max_length=20, blank=True, editable=False)
    address = models.CharField("现住址", max_length=200, blank=True)
    village = models.ForeignKey(
        Division, verbose_name="所属村", on_delete=models.PROTECT, related_name="+"
    )
    township = models.ForeignKey(
        Division, verbose_name="所属乡镇", on_delete=models.PROTECT, related_name="+"
    )
    household = models.ForeignKey(
        Household,
        verbose_name="家庭户",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    status = models.CharField(
        "状态", max_length=10, choices=ResidentStatus.choices, default=ResidentStatus.ACTIVE
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name="合并到",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_records",
    )
    registered_at = models.ForeignKey(
        Facility,
        verbose_name="建档机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("建档时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "居民"
        verbose_name_plural = "居民"
        constraints = [
            models.UniqueConstraint(
                fields=["doc_type", "doc_number"],
                condition=Q(status="active") & ~Q(doc_number=""),
                name="resident_unique_active_document",
            ),
        ]
        indexes = [
            models.Index(fields=["village", "name"], name="resident_village_name"),
            models.Index(fields=["township", "name"], name="resident_township_name"),
            _pattern_index("name", "resident_name_like"),
            _pattern_index("name_pinyin", "resident_pinyin_like"),
            _pattern_index("name_initials", "resident_initials_like"),
            _pattern_index("doc_number", "resident_doc_like"),
            _pattern_index("doc_rev", "resident_docrev_like"),
            _pattern_index("phone", "resident_phone_like"),
            _pattern_index("phone_rev", "resident_phonerev_like"),
            models.Index(fields=["birth_date", "sex"], name="resident_birth_sex"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.mpi_id}）"

    def refresh_search_keys(self) -> None:
        """Derive the search columns (pinyin, initials, reversed ID and phone for tail
        search) from the fields they index. Call before saving changed identity data."""
        from .rules import name_search_keys

        self.name_pinyin, self.name_initials = name_search_keys(self.name)
        self.doc_rev = self.doc_number[::-1]
        self.phone_rev = self.phone[::-1]

    @property
    def is_merged(self) -> bool:
        return self.status == ResidentStatus.MERGED


class CardKind(models.TextChoices):
    TEMPORARY = "1", "临时卡（就诊卡）"
    FORMAL = "2", "正式卡"


class CardStatus(models.TextChoices):
    NORMAL = "1", "正常"
    SUSPENDED = "2", "挂失/暂停"


class CardIssuer(models.TextChoices):
    LOCAL = "local", "本平台签发"
    EXTERNAL = "external", "外部签发"


class HealthCard(models.Model):
    """An electronic health card (电子健康卡): a 64-hex card ID bound to one resident."""

    card_id = models.CharField("卡号", max_length=64, unique=True)
    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="cards"
    )
    kind = models.CharField(
        "卡类型", max_length=1, choices=CardKind.choices, default=CardKind.FORMAL
    )
    status = models.CharField(
        "卡状态", max_length=1, choices=CardStatus.choices, default=CardStatus.NORMAL
    )
    issuer = models.CharField(
        "签发方", max_length=10, choices=CardIssuer.choices, default=CardIssuer.LOCAL
    )
    issuing_org = models.CharField("签发机构", max_length=100, blank=True)
    issued_at = models.DateTimeField("签发时间", auto_now_add=True)
    status_reason = models.CharField("状态原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "电子健康卡"
        verbose_name_plural = "电子健康卡"

    def __str__(self) -> str:
        return f"{self.card_id[:8]}…"


class MergeRecord(models.Model):
    """An administrator's merge of `merged` into `survivor`; undoable."""

    survivor = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="merges_won")
    merged = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="merges_lost")
    reason = models.CharField("合并原因", max_length=200, blank=True)
    filled = models.JSONField("补全的字段", default=dict, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "合并记录"
        verbose_name_plural = "合并记录"
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.survivor_id}"


class CandidateStatus(models.TextChoices):
    OPEN = "open", "待审核"
    DISMISSED = "dismissed", "非同一人"
    MERGED = "merged", "已合并"


class DuplicateCandidate(models.Model):
    """Two active records that may be the same person, found by `find_duplicates`."""

    first = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField("相似度")
    reasons = models.JSONField("依据", default=list)
    status = models.CharField(
        "状态", max_length=10, choices=CandidateStatus.choices, default=CandidateStatus.OPEN
    )
    found_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "疑似重复档案"
        verbose_name_plural = "疑似重复档案"
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="duplicate_pair"),
            models.CheckConstraint(
                condition=Q(first__lt=models.F("second")), name="duplicate_pair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_id}~{self.second_id} ({self.score})"
