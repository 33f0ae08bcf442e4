"""Extra sections of the half-yearly and yearly indicator report (指标报告), contributed by
apps above the indicators app (the 1000-point scoring adds its scoring table) without the
indicators app importing them.

An app registers a provider in its `AppConfig.ready()`:

    from yigongti.indicators.report_sections import register
    register("scoring", scoring_section)

A provider takes the report's scope and period and the actor, and returns a `ReportSection`
or None when it has nothing for that scope (e.g. no published scores). The report renders
each section as one sheet of the Excel workbook and one table of the printable page, in the
order of registration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yigongti.core.actor import Actor

from .rules import Level, Period


@dataclass(frozen=True)
class ReportScope:
    """Whom the report is about: the county (unit_id None) or one medical group."""

    level: Level  # Level.COUNTY or Level.GROUP
    unit_id: int | None
    name: str


@dataclass
class ReportSection:
    title: str  # sheet name and heading, Chinese, ≤ 31 characters (Excel's limit)
    columns: list[str]
    rows: list[list[Any]]  # str, int, float, Decimal or None (shown as "—")
    note: str = ""  # printed under the table: definitions, snapshot date, caveats
    #: optional bar chart of one numeric column against the first column
    chart_column: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Provider = Callable[[ReportScope, Period, Actor], ReportSection | None]

_PROVIDERS: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    _PROVIDERS[name] = provider


def sections(scope: ReportScope, period: Period, actor: Actor) -> list[ReportSection]:
    out = []
    for provider in _PROVIDERS.values():
        section = provider(scope, period, actor)
        if section is not None:
            out.append(section)
    return out
