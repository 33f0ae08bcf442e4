"""The care network: county → medical groups → member facilities, with their supervising
relations, departments, staff, and the groupings that cut across the line of command."""

from __future__ import annotations

from django.db import models


class DivisionLevel(models.TextChoices):
    PROVINCE = "province", "省"
    CITY = "city", "市"
    COUNTY = "county", "县"
    TOWNSHIP = "township", "乡镇"
    VILLAGE = "village", "村"


#: GB/T 2260-style code lengths: county 6 digits, township 9, village 12.
CODE_LENGTH = {
    DivisionLevel.PROVINCE: 2,
    DivisionLevel.CITY: 4,
    DivisionLevel.COUNTY: 6,
    DivisionLevel.TOWNSHIP: 9,
    DivisionLevel.VILLAGE: 12,
}


class Division(models.Model):
    """An administrative division (行政区划) with its GB/T 2260-style code."""

    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=64)
    level = models.CharField("级别", max_length=16, choices=DivisionLevel.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name="上级区划",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        verbose_name = "行政区划"
        verbose_name_plural = "行政区划"
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "code"], name="division_level_code")]

    def __str__(self) -> str:
        return self.name


class MedicalGroup(models.Model):
    """A medical group (医疗健康服务集团 / 医共体) led by a county hospital."""

    code = models.CharField("编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=128, unique=True)
    county = models.ForeignKey(
        Division, verbose_name="所属县", on_delete=models.PROTECT, related_name="medical_groups"
    )
    lead = models.ForeignKey(
        "Facility",
        verbose_name="牵头医院",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="led_groups",
    )

    class Meta:
        verbose_name = "医共体"
        verbose_name_plural = "医共体"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class FacilityKind(models.TextChoices):
    COUNTY_HOSPITAL = "county_hospital", "县级医院"
    BRANCH = "branch", "分院"
    TOWNSHIP_CENTRE = "township_centre", "乡镇卫生院"
    VILLAGE_CLINIC = "village_clinic", "村卫生室"
    OTHER = "other", "其他机构"


#: Which division level a facility of each kind sits in.
KIND_LEVEL = {
    FacilityKind.COUNTY_HOSPITAL: DivisionLevel.COUNTY,
    FacilityKind.BRANCH: DivisionLevel.TOWNSHIP,
    FacilityKind.TOWNSHIP_CENTRE: DivisionLevel.TOWNSHIP,
    FacilityKind.VILLAGE_CLINIC: DivisionLevel.VILLAGE,
}


class Facility(models.Model):
    """A member facility. A village clinic is supervised by its township centre (乡村一体化)."""

    code = models.CharField("机构编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=128)
    kind = models.CharField("类型", max_length=32, choices=FacilityKind.choices)
    group = models.ForeignKey(
        MedicalGroup,
        verbose_name="所属医共体",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    division = models.ForeignKey(
        Division, verbose_name="所在区划", on_delete=models.PROTECT, related_name="facilities"
    )
    supervisor = models.ForeignKey(
        "self",
        verbose_name="上级管理机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supervised",
    )
    address = models.CharField("地址", max_length=200, blank=True)
    phone = models.CharField("电话", max_length=20, blank=True)
    active = models.BooleanField("在用", default=True)

    class Meta:
        verbose_name = "医疗机构"
        verbose_name_plural = "医疗机构"
        ordering = ["code"]
        indexes = [models.Index(fields=["group", "kind"], name="facility_group_kind")]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    facility = models.ForeignKey(
        Facility, verbose_name="机构", on_delete=models.PROTECT, related_name="departments"
    )
    code = models.CharField("科室编码", max_length=32, blank=True)
    name = models.CharField("科室名称", max_length=64)

    class Meta:
        verbose_name = "科室"
        verbose_name_plural = "科室"
        ordering = ["facility", "name"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "name"], name="department_facility_name")
        ]

    def __str__(self) -> str:
        return self.name


class Staff(models.Model):
    """A health worker at their practising facility (执业机构)."""

    name = models.CharField("姓名", max_length=30)
    sex = models.CharField("性别", max_length=1, choices=[("1", "男"), ("2", "女")], blank=True)
    facility = models.ForeignKey(
        Facility, verbose_name="执业机构", on_delete=models.PROTECT, related_name="staff"
    )
    department = models.ForeignKey(
        Department,
        verbose_name="科室",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staff",
    )
    title = models.CharField("职称", max_length=32, blank=True)
    specialty = models.CharField("专业", max_length=64, blank=True)
    licence_no = models.CharField("执业证号", max_length=32, blank=True)
    phone = models.CharField("电话", max_length=20, blank=True)
    active = models.BooleanField("在职", default=True)

    class Meta:
        verbose_name = "人员"
        verbose_name_plural = "人员"
        ordering = ["facility", "name"]

    def __str__(self) -> str:
        return f"{self.name}（{self.title}）" if self.title else self.name


class GroupingKind(models.TextChoices):
    ALLIANCE = "alliance", "专科联盟"
    GRID = "grid", "网格"
    TELE_EDUCATION = "tele_education", "远程教育网络"
    PAIRING = "pairing", "对口帮扶"


class Grouping(models.Model):
    """A grouping that cuts across the line of command; a facility may be in several."""

    name = models.CharField("名称", max_length=128, unique=True)
    kind = models.CharField("类型", max_length=32, choices=GroupingKind.choices)
    lead = models.ForeignKey(
        Facility,
        verbose_name="牵头机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="led_groupings",
    )
    members = models.ManyToManyField(
        Facility, verbose_name="成员机构", blank=True, related_name="groupings"
    )
    description = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = "协作组织"
        verbose_name_plural = "协作组织"
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name
