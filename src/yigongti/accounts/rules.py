"""Roles and what each may do. Pure data: the personas of DESIGN.md."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SYSADMIN = "sysadmin"
    COMMISSION = "commission"
    GROUP_ADMIN = "group_admin"
    COUNTY_DOCTOR = "county_doctor"
    TOWNSHIP_DOCTOR = "township_doctor"
    VILLAGE_DOCTOR = "village_doctor"
    PHARMACIST = "pharmacist"


ROLE_LABELS: dict[str, str] = {
    Role.SYSADMIN: "系统管理员",
    Role.COMMISSION: "卫健委监管人员",
    Role.GROUP_ADMIN: "医共体管理员",
    Role.COUNTY_DOCTOR: "县级医生",
    Role.TOWNSHIP_DOCTOR: "乡镇医生",
    Role.VILLAGE_DOCTOR: "乡村医生",
    Role.PHARMACIST: "药师",
}


class Perm(StrEnum):
    VIEW_RESIDENTS = "view_residents"
    REGISTER_RESIDENT = "register_resident"
    EDIT_RESIDENT = "edit_resident"
    MANAGE_CARDS = "manage_cards"
    MERGE_RESIDENTS = "merge_residents"
    VIEW_NETWORK = "view_network"
    MANAGE_NETWORK = "manage_network"
    VIEW_AUDIT = "view_audit"
    RECORD_CLINICAL = "record_clinical"  # encounters, observations, exams, reports
    IMPORT_RECORDS = "import_records"  # HIS files and messages, code tables


_CLINICAL = {
    Perm.VIEW_RESIDENTS,
    Perm.REGISTER_RESIDENT,
    Perm.EDIT_RESIDENT,
    Perm.MANAGE_CARDS,
    Perm.VIEW_NETWORK,
    Perm.RECORD_CLINICAL,
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.SYSADMIN: frozenset(
        {
            Perm.VIEW_NETWORK,
            Perm.MANAGE_NETWORK,
            Perm.VIEW_AUDIT,
            Perm.VIEW_RESIDENTS,
            Perm.MERGE_RESIDENTS,
            Perm.IMPORT_RECORDS,
        }
    ),
    Role.COMMISSION: frozenset({Perm.VIEW_NETWORK, Perm.VIEW_AUDIT, Perm.VIEW_RESIDENTS}),
    Role.GROUP_ADMIN: frozenset(
        _CLINICAL
        | {Perm.MANAGE_NETWORK, Perm.VIEW_AUDIT, Perm.MERGE_RESIDENTS, Perm.IMPORT_RECORDS}
    ),
    Role.COUNTY_DOCTOR: frozenset(_CLINICAL),
    Role.TOWNSHIP_DOCTOR: frozenset(_CLINICAL),
    Role.VILLAGE_DOCTOR: frozenset(_CLINICAL),
    Role.PHARMACIST: frozenset({Perm.VIEW_RESIDENTS, Perm.VIEW_NETWORK}),
}
