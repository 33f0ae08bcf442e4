"""Who is acting. Built once per request by `accounts.actors.actor_for(user)`; every action and
scoped query takes one. Core knows only plain ids so that it depends on no other app."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ScopeKind(StrEnum):
    ALL = "all"  # the whole county instance (commission, sysadmin)
    TOWNSHIPS = "townships"  # residents living in these townships (township GP, group catchment)
    VILLAGES = "villages"  # residents living in these villages (village doctor)
    NONE = "none"  # an account with no facility sees no resident


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    division_ids: frozenset[int] = frozenset()

    @classmethod
    def none(cls) -> Scope:
        return cls(ScopeKind.NONE)


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: str
    role_label: str = ""
    facility_id: int | None = None
    facility_name: str = ""
    group_id: int | None = None
    scope: Scope = field(default_factory=Scope.none)
    permissions: frozenset[str] = frozenset()
    ip: str = ""

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @classmethod
    def system(cls, reason: str = "system") -> Actor:
        """The platform itself (commands, imports, the synthetic county)."""
        return cls(
            user_id=None,
            username=reason,
            role="system",
            role_label="系统",
            scope=Scope(ScopeKind.ALL),
            permissions=frozenset({"*"}),
        )

    @property
    def is_system(self) -> bool:
        return self.role == "system"
