"""The reports (issue 16 item 1): one :class:`ReportSpec` per report, each in its own module of
``reports.library``; the page, the chart and the exports are the same for all of them
(``reports.report_views``).

A report's ``build`` reads counts for the schools the framework resolved from the viewer and
the filters (never wider), and returns :class:`ReportPage` with raw :class:`ReportTable`
objects; the framework suppresses them for the viewer (``tables.publish_table``), audits the
view, renders, exports and records releases in the ledger.
"""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal
from .tables import ReportTable

FILTERS = ("school", "grade", "period", "campaign")


@dataclass(frozen=True)
class ReportFilters:
    """What the viewer chose, already checked against what they may see.

    ``school_ids``: the schools in the report (one chosen, or every school the viewer may see
    for the district view); ``district``: True when the viewer asked for the district-level
    view (schools as rows) rather than one school (grades/classes as rows). ``start``/``end``:
    local dates, both included. ``tz``: the district's time zone, for month keys and day
    boundaries.
    """

    school_ids: tuple[uuid.UUID, ...]
    district: bool
    grade: int | None
    start: dt.date
    end: dt.date
    campaign_id: uuid.UUID | None
    tz: dt.tzinfo
    now: dt.datetime

    def since(self) -> dt.datetime:
        """``start`` at local midnight, as an aware datetime."""
        return dt.datetime.combine(self.start, dt.time(), self.tz)

    def until(self) -> dt.datetime:
        """The local midnight after ``end`` (exclusive bound)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), self.tz)


@dataclass
class NamedList:
    """Names for case workers only (e.g. the unscreened students for the school's psychology
    teacher). Shown on the page only when ``build`` decided the viewer may see them; never in
    the suppressed exports (its own export needs a reason: ``reports.named``)."""

    title: str
    head: list[str]
    rows: list[list[str]]
    export_endpoint: str | None = None  # route that exports it with a reason
    # The students listed (the framework's audit entry of the page names them).
    student_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class ReportPage:
    title: str
    tables: list[ReportTable]
    notes: list[str] = field(default_factory=list)  # translated sentences under the title
    named: NamedList | None = None


@dataclass(frozen=True)
class ReportSpec:
    key: str  # URL part: /reports/<key>
    title: object  # lazy translated title
    description: object  # one lazy sentence for the reports index
    filters: tuple[str, ...]  # which of FILTERS the report uses
    build: Callable[[Session, Principal, ReportFilters], ReportPage]
    # School leaders and psychology teachers (STATS_SCHOOL) see their school; the centre and
    # supervisors (STATS_DISTRICT) the district. A report may need more (never less).
    permission: Permission = Permission.STATS_SCHOOL


# Each module in reports/library defines SPECS: list[ReportSpec]. Order = the index page's.
LIBRARY = (
    "coverage", "tiers", "alert_sla", "completion", "plan_coverage", "referral_turnaround",
    "concerns",
)  # fmt: skip


def specs() -> dict[str, ReportSpec]:
    out: dict[str, ReportSpec] = {}
    for name in LIBRARY:
        try:
            module = importlib.import_module(f"{__package__}.library.{name}")
        except ModuleNotFoundError as exc:  # a report still being written (never in a release)
            if exc.name == f"{__package__}.library.{name}":
                continue
            raise
        for spec in module.SPECS:
            out[spec.key] = spec
    return out
