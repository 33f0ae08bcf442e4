"""Family-doctor contracts (家庭医生签约服务, DOMAIN.md §4): teams, service packages and
contracts. What a contract has *delivered* (履约) is not stored: it is computed at read time
from the record (exams, home visits, encounters) and the chronic app's follow-ups."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from yigongti.network.models import Division, Facility, MedicalGroup, Staff
from yigongti.residents.models import Resident


class TeamLevel(models.TextChoices):
    COUNTY = "county", "县级"
    TOWNSHIP = "township", "乡镇级"
    VILLAGE = "village", "村级"


class Team(models.Model):
    """A family-doctor team (家庭医生团队); it belongs to one facility and serves villages."""

    name = models.CharField("团队名称", max_length=64)
    facility = models.ForeignKey(
        Facility, verbose_name="所属机构", on_delete=models.PROTECT, related_name="fd_teams"
    )
    level = models.CharField("家庭医生层级", max_length=10, choices=TeamLevel.choices)
    villages = models.ManyToManyField(
        Division, verbose_name="服务村", blank=True, related_name="fd_teams"
    )
    active = models.BooleanField("在用", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "家庭医生团队"
        verbose_name_plural = "家庭医生团队"
        ordering = ["facility_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "name"], name="contracts_team_name")
        ]

    def __str__(self) -> str:
        return self.name


class MemberRole(models.TextChoices):
    DOCTOR = "doctor", "家庭医生"
    NURSE = "nurse", "护士"
    PUBLIC_HEALTH = "public_health", "公卫医师"
    ASSISTANT = "assistant", "助理"
    SPECIALIST = "specialist", "县级专科医生"


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    staff = models.ForeignKey(
        Staff, verbose_name="人员", on_delete=models.PROTECT, related_name="fd_memberships"
    )
    role = models.CharField("团队角色", max_length=16, choices=MemberRole.choices)

    class Meta:
        verbose_name = "团队成员"
        verbose_name_plural = "团队成员"
        ordering = ["team_id", "role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "staff"], name="contracts_member_once"),
            models.UniqueConstraint(
                fields=["team"], condition=Q(role="doctor"), name="contracts_one_doctor"
            ),
        ]
        indexes = [models.Index(fields=["staff"], name="contracts_member_staff")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.staff_id}"


class PackageKind(models.TextChoices):
    BASIC = "basic", "基础包"
    PERSONALISED = "personalised", "个性化包"


class ServicePackage(models.Model):
    """A service package (服务包): the services it promises per contract year, as data
    (`services` = [{"service": "bp_followup", "count": 4}, ...]), its fee, and the share of
    the fee paid by insurance / public-health funds (configurable per package)."""

    code = models.CharField("编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=64)
    kind = models.CharField("类型", max_length=16, choices=PackageKind.choices)
    group = models.ForeignKey(
        MedicalGroup,
        verbose_name="医共体",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    services = models.JSONField("服务项目", default=list)
    fee = models.DecimalField("年费用（元）", max_digits=8, decimal_places=2, default=0)
    covered_share = models.DecimalField(
        "医保/公卫支付比例", max_digits=4, decimal_places=3, default=0
    )
    description = models.CharField("说明", max_length=200, blank=True)
    active = models.BooleanField("在用", default=True)

    class Meta:
        verbose_name = "服务包"
        verbose_name_plural = "服务包"
        ordering = ["kind", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(covered_share__gte=0) & Q(covered_share__lte=1),
                name="contracts_share_0_1",
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="contracts_fee_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class ContractStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    RENEWED = "renewed", "已续约"
    CHANGED = "changed", "已改签"
    TERMINATED = "terminated", "已解约"
    EXPIRED = "expired", "已到期"


class ConsentMethod(models.TextChoices):
    PAPER = "paper", "纸质签约"
    ONLINE = "online", "线上签约"


class Contract(models.Model):
    """One contract of a resident with a team. At most one *active* per resident (DOMAIN.md
    §4: "one contracted family doctor team at a time") — a partial unique index."""

    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        Team, verbose_name="团队", on_delete=models.PROTECT, related_name="contracts"
    )
    package = models.ForeignKey(
        ServicePackage, verbose_name="服务包", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        "状态", max_length=12, choices=ContractStatus.choices, default=ContractStatus.ACTIVE
    )
    start_date = models.DateField("生效日期")
    end_date = models.DateField("到期日期")
    consent_method = models.CharField("签约方式", max_length=8, choices=ConsentMethod.choices)
    consent_at = models.DateTimeField("同意时间")
    signer_name = models.CharField("签字人", max_length=30)
    signer_relation = models.CharField("与居民关系", max_length=16, default="本人")
    previous = models.ForeignKey(
        "self",
        verbose_name="前一份协议",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_at = models.DateTimeField("签约录入时间", auto_now_add=True)
    ended_at = models.DateTimeField("终止时间", null=True, blank=True)
    end_reason = models.CharField("终止原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "签约协议"
        verbose_name_plural = "签约协议"
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(status="active"),
                name="contracts_one_active_per_resident",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gt=F("start_date")), name="contracts_end_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status", "end_date"], name="contracts_team_status_end"),
            models.Index(fields=["resident", "status"], name="contracts_resident_status"),
            models.Index(fields=["status", "end_date"], name="contracts_status_end"),
        ]

    def __str__(self) -> str:
        return f"签约 {self.resident_id} {self.start_date}–{self.end_date}"
