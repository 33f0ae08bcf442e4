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
    # contracts (家庭医生签约)
    SIGN_CONTRACTS = "sign_contracts"  # sign, renew, change team, terminate
    MANAGE_TEAMS = "manage_teams"  # teams and service packages
    # chronic (慢病管理) and home devices
    MANAGE_CHRONIC = "manage_chronic"  # registers, screening, follow-ups
    MANAGE_DEVICES = "manage_devices"  # bind / unbind home devices, quarantine
    VIEW_INDICATORS = "view_indicators"  # aggregated rates with drill-down
    # referrals, scheduling
    REFER = "refer"  # send and receive referrals, return notes
    BOOK = "book"  # book and cancel expert slots and beds
    MANAGE_SCHEDULES = "manage_schedules"  # publish sessions, quotas, beds
    # pharmacy (药品耗材)
    VIEW_STOCK = "view_stock"
    DISPENSE = "dispense"
    MANAGE_STOCK = "manage_stock"  # receipts, transfers, losses, stock takes
    PROCURE = "procure"  # approve and consolidate purchase requests, order, distribute
    REGISTER_SHORTAGE = "register_shortage"  # 缺药登记
    # consults (远程会诊, 共享诊断中心, 专家下沉)
    CONSULT = (
        "consult"  # request and answer consultations, request centre readings, ack critical values
    )
    READ_STUDIES = "read_studies"  # a diagnosis centre's reader: claim, report, review
    MANAGE_DISPATCH = "manage_dispatch"  # roster of seconded experts, sessions, trainings
    # indicators (监测指标, 千分制)
    MANAGE_INDICATORS = "manage_indicators"  # catalogue, scoring schemes, publish, evidence review


_CLINICAL = {
    Perm.VIEW_RESIDENTS,
    Perm.REGISTER_RESIDENT,
    Perm.EDIT_RESIDENT,
    Perm.MANAGE_CARDS,
    Perm.VIEW_NETWORK,
    Perm.RECORD_CLINICAL,
    Perm.SIGN_CONTRACTS,
    Perm.MANAGE_CHRONIC,
    Perm.MANAGE_DEVICES,
    Perm.VIEW_INDICATORS,
    Perm.REFER,
    Perm.BOOK,
    Perm.VIEW_STOCK,
    Perm.DISPENSE,
    Perm.REGISTER_SHORTAGE,
    Perm.CONSULT,
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
    Role.COMMISSION: frozenset(
        {
            Perm.VIEW_NETWORK,
            Perm.VIEW_AUDIT,
            Perm.VIEW_RESIDENTS,
            Perm.VIEW_INDICATORS,
            Perm.VIEW_STOCK,
            Perm.MANAGE_INDICATORS,
        }
    ),
    Role.GROUP_ADMIN: frozenset(
        _CLINICAL
        | {
            Perm.MANAGE_NETWORK,
            Perm.VIEW_AUDIT,
            Perm.MERGE_RESIDENTS,
            Perm.IMPORT_RECORDS,
            Perm.MANAGE_TEAMS,
            Perm.MANAGE_SCHEDULES,
            Perm.MANAGE_STOCK,
            Perm.PROCURE,
            Perm.READ_STUDIES,
            Perm.MANAGE_DISPATCH,
            Perm.MANAGE_INDICATORS,
        }
    ),
    Role.COUNTY_DOCTOR: frozenset(_CLINICAL | {Perm.MANAGE_SCHEDULES, Perm.READ_STUDIES}),
    Role.TOWNSHIP_DOCTOR: frozenset(_CLINICAL),
    Role.VILLAGE_DOCTOR: frozenset(_CLINICAL),
    Role.PHARMACIST: frozenset(
        {
            Perm.VIEW_RESIDENTS,
            Perm.VIEW_NETWORK,
            Perm.VIEW_STOCK,
            Perm.DISPENSE,
            Perm.MANAGE_STOCK,
            Perm.PROCURE,
            Perm.REGISTER_SHORTAGE,
        }
    ),
}
