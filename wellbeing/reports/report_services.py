"""The report framework's services (issue 16 items 1 and 3): who may open a report, which
schools it covers, the report built, suppressed for its viewer and audited.

Who sees what. School leaders and psychology teachers (``STATS_SCHOOL``) see their own school,
its grades and classes as rows. The centre and supervisors (``STATS_DISTRICT``) see the
district: every school of their district as a row; a counsellor (who also has ``STATS_SCHOOL``
over the district's schools) may choose one school too, a supervisor (counts only) may not. A
report may need more than these (``ReportSpec.permission``), never less.

Every page view is audited (``REPORT_VIEW``) in the request's transaction, naming the students
of a named list when there is one; every export or print records each of its tables in the
release ledger (``ledger.release``) and is audited as ``REPORT_EXPORT``/``REPORT_PRINT``, the
actions the supervisor's exports queue lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import ROLE_PERMISSIONS, Forbidden, Permission, Principal, Role, can
from ..core.errors import NotFound
from ..orgs.labels import grade_label
from ..orgs.models import School, SchoolClass
from ..screening.models import Campaign, CampaignSchool
from . import catalog, ledger, queries
from .catalog import ReportFilters, ReportPage, ReportSpec
from .report_forms import ReportFilterForm, default_period
from .services import district_school_ids
from .tables import PublishedTable, publish_table

STATS = frozenset({Permission.STATS_SCHOOL, Permission.STATS_DISTRICT})
# Roles that see their own school's statistics (psychology teacher, school leader).
SCHOOL_STATS_ROLES = tuple(
    role for role, granted in ROLE_PERMISSIONS.items()
    if Permission.STATS_SCHOOL in granted and role != Role.COUNSELLOR
)  # fmt: skip


class ReportNotFound(NotFound):
    code = "report_not_found"


def may_open(principal: Principal | None, spec: ReportSpec | None = None) -> bool:
    """May ``principal`` open the reports (``spec`` None) or this report?"""
    if principal is None or not (principal.permissions() & STATS):
        return False
    if spec is None or spec.permission == Permission.STATS_SCHOOL:
        return True
    return can(principal, spec.permission)


def district_viewer(principal: Principal) -> bool:
    return Permission.STATS_DISTRICT in principal.permissions()


def visible_schools(session: Session, principal: Principal) -> list[School]:
    """The schools whose counts the viewer may see: the district's for district staff, their
    own for school staff."""
    if district_viewer(principal):
        return queries.schools(session, district_school_ids(session, principal))
    own = principal.school_ids(*SCHOOL_STATS_ROLES)
    return queries.schools(session, sorted(own, key=str))


def spec_for(principal: Principal, key: str) -> ReportSpec:
    """The report ``key``: 404 when there is none, 403 when the viewer may not open it."""
    spec = catalog.specs().get(key)
    if spec is None:
        raise ReportNotFound(_l("There is no such report."))
    if not may_open(principal, spec):
        raise Forbidden(spec.permission)
    return spec


@dataclass
class Choices:
    """What the filter form offers this viewer."""

    schools: list[School]
    district: bool  # the district view ("all schools") is offered
    grades: list[int]
    campaigns: list[Campaign]


def filter_choices(session: Session, principal: Principal) -> Choices:
    schools = visible_schools(session, principal)
    ids = [s.id for s in schools]
    grades = sorted(
        set(session.scalars(select(SchoolClass.grade).where(SchoolClass.school_id.in_(ids))))
    ) if ids else []  # fmt: skip
    campaigns = list(
        session.scalars(
            select(Campaign)
            .where(Campaign.id.in_(select(CampaignSchool.campaign_id).where(
                CampaignSchool.school_id.in_(ids))))
            .order_by(Campaign.opens_on.desc(), Campaign.name)
        )
    ) if ids else []  # fmt: skip
    return Choices(schools, district_viewer(principal), grades, campaigns)


def fill_form(form: ReportFilterForm, choices: Choices) -> None:
    """Set the form's choices (labels in the reader's language)."""
    schools: list[tuple[str, Any]] = [(str(s.id), s.name) for s in choices.schools]
    if choices.district:
        schools.insert(0, ("", _l("All schools of the district")))
    form.school.choices = schools
    form.grade.choices = [("", _l("All grades"))] + [
        (str(g), grade_label(g)) for g in choices.grades
    ]
    form.campaign.choices = [("", _l("Any campaign"))] + [
        (str(c.id), c.name) for c in choices.campaigns
    ]


def _school(session: Session, principal: Principal, raw: str, choices: Choices) -> School:
    """The school chosen in the form: 404 when it does not exist, 403 when the viewer may not
    see it on its own (a school of another district, or a supervisor: district counts only)."""
    try:
        school = session.get(School, uuid.UUID(raw))
    except ValueError:
        school = None
    if school is None:
        raise ReportNotFound(_l("There is no such school."))
    if school.id not in {s.id for s in choices.schools} or not can(
        principal, Permission.STATS_SCHOOL, school
    ):
        raise Forbidden(Permission.STATS_SCHOOL, school)
    return school


def resolve_filters(
    session: Session,
    principal: Principal,
    spec: ReportSpec,
    form: ReportFilterForm,
    choices: Choices,
    *,
    tz: dt.tzinfo,
    now: dt.datetime,
) -> ReportFilters:
    """The filters checked against what the viewer may see (the form already validated)."""
    wanted = form.school.data or ""
    if "school" in spec.filters and wanted:
        school_ids: tuple[uuid.UUID, ...] = (_school(session, principal, wanted, choices).id,)
        district = False
    elif choices.district:
        school_ids, district = tuple(s.id for s in choices.schools), True
    elif choices.schools:
        school_ids, district = (choices.schools[0].id,), False
    else:
        school_ids, district = (), False
    today = now.astimezone(tz).date()
    start, end = default_period(today)
    if "period" in spec.filters:
        start = form.start.data or start
        end = form.end.data or (end if form.start.data is None or form.start.data <= end else
                                form.start.data)  # fmt: skip
    grade = int(form.grade.data) if "grade" in spec.filters and form.grade.data else None
    campaign = (
        uuid.UUID(form.campaign.data) if "campaign" in spec.filters and form.campaign.data else None
    )
    return ReportFilters(school_ids, district, grade, start, end, campaign, tz, now)


@dataclass
class ShownReport:
    spec: ReportSpec
    filters: ReportFilters
    page: ReportPage
    tables: list[PublishedTable]
    schools: list[School]  # the schools the report covers

    @property
    def threshold(self) -> int | None:
        return next((t.threshold for t in self.tables if t.threshold), None)

    @property
    def hidden(self) -> bool:
        return any(t.hidden for t in self.tables)


def _filter_detail(filters: ReportFilters) -> dict[str, Any]:
    return {
        "schools": [str(s) for s in filters.school_ids], "district": filters.district,
        "grade": filters.grade, "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "campaign": str(filters.campaign_id) if filters.campaign_id else None,
    }  # fmt: skip


def _build(
    session: Session, principal: Principal, spec: ReportSpec, filters: ReportFilters, export: bool
) -> ShownReport:
    page = spec.build(session, principal, filters)
    tables = [publish_table(principal, table, export=export) for table in page.tables]
    schools = queries.schools(session, list(filters.school_ids)) if filters.school_ids else []
    return ShownReport(spec, filters, page, tables, schools)


def view_report(
    session: Session, principal: Principal, spec: ReportSpec, filters: ReportFilters
) -> ShownReport:
    """The report as its viewer may see it on screen, audited (``REPORT_VIEW``)."""
    shown = _build(session, principal, spec, filters, export=False)
    named = shown.page.named
    students = [str(s) for s in named.student_ids] if named else []
    audit.record(
        session, AuditAction.REPORT_VIEW, object_type="report", object_id=spec.key,
        school_id=filters.school_ids[0] if len(filters.school_ids) == 1 else None,
        fields=["counts", *(["name", "class"] if named and named.rows else [])],
        detail={"report": spec.key, **_filter_detail(filters), "students": students,
                "suppressed": shown.threshold is not None},
    )  # fmt: skip
    return shown


SCOPE_LENGTH = 80  # the audit entry of a release carries the scope (a code: at most 80)


def release_scope(spec: ReportSpec, table_key: str, filters: ReportFilters, districts: str) -> str:
    """What releases are compared within: the report's table and the campaign it counts, or
    the district (never the period or the schools: those are what a difference varies).

    ``coverage:coverage.by_class:<campaign id>`` is written ``coverage.by_class:<id>`` (the
    table's key already names its report); a scope still too long for the audit entry names
    the table by a digest of its key."""
    where = str(filters.campaign_id or districts)
    table = table_key if table_key.startswith(f"{spec.key}.") else f"{spec.key}:{table_key}"
    scope = f"{table}:{where}"
    if len(scope) > SCOPE_LENGTH:
        digest = hashlib.sha256(table_key.encode("utf-8")).hexdigest()[:16]
        scope = f"{spec.key}:{digest}:{where}"[-SCOPE_LENGTH:]
    return scope


def release_report(
    session: Session,
    principal: Principal,
    spec: ReportSpec,
    filters: ReportFilters,
    *,
    kind: str,
    table_keys: Iterable[str] | None = None,
    fmt: str = "",
    first: bool = False,
) -> ShownReport:
    """The report suppressed for release (whoever asks), each of its tables (or those of
    ``table_keys``, or the first alone) checked against and recorded in the release ledger, and the release
    audited. :class:`ledger.ReleaseRefused` when a table would give a hidden number back."""
    shown = _build(session, principal, spec, filters, export=True)
    if table_keys is not None:
        wanted = set(table_keys)
        shown.tables = [t for t in shown.tables if t.table.key in wanted]
    if first:  # a CSV holds one table: the first unless another was asked for
        shown.tables = shown.tables[:1]
    districts = "+".join(sorted({str(s.district_id) for s in shown.schools})) or "none"
    permission = Permission.STATS_DISTRICT if filters.district else Permission.STATS_SCHOOL
    released = []
    for table in shown.tables:
        entry = ledger.release(
            session, principal, permission=permission, report=spec.key,
            scope=release_scope(spec, table.table.key, filters, districts), kind=kind,
            filters=_filter_detail(filters), table=table.suppressed,
        )  # fmt: skip
        released.append({"table": table.table.key, "release": str(entry.id),
                         "hash": entry.table_hash})  # fmt: skip
    action = AuditAction.REPORT_PRINT if kind == "print" else AuditAction.REPORT_EXPORT
    audit.record(
        session, action, object_type="report", object_id=spec.key,
        school_id=filters.school_ids[0] if len(filters.school_ids) == 1 else None,
        fields=["counts"], purpose="report_release",
        detail={"report": spec.key, "format": fmt or kind, **_filter_detail(filters),
                "releases": released},
    )  # fmt: skip
    return shown


def refused(
    principal: Principal, spec: ReportSpec, filters: ReportFilters, kind: str, fmt: str
) -> dict[str, Any]:
    """The audit entry's arguments for a release the ledger refused (written on its own: the
    request's transaction is rolled back)."""
    action = AuditAction.REPORT_PRINT if kind == "print" else AuditAction.REPORT_EXPORT
    return {
        "action": action, "object_type": "report", "object_id": spec.key,
        "outcome": audit.Outcome.DENIED, "fields": ["counts"],
        "detail": {"report": spec.key, "format": fmt or kind, "rule": "release_refused",
                   **_filter_detail(filters)},
    }  # fmt: skip
