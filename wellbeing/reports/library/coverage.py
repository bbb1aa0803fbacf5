"""Screening coverage (issue 16 item 1): for one campaign, per school (district view) or per
grade and class (one school), how many of the enrolled students of the campaign's grades were
screened, are missing, were voided or are incomplete.

Each enrolled student (status active, at a school of the campaign, in a target grade: a grade
some instrument of the campaign is meant for) counts in exactly one column, by their responses
in the campaign:

- **voided**: a response was voided (a validity scale: the answers cannot be used);
- **screened**: otherwise, every instrument meant for their grade answered completely;
- **incomplete**: otherwise, some answers recorded (an instrument left out, or a response with
  too many items unanswered);
- **missing**: no response at all.

Students count where they are now (their current school, grade and class), whoever entered the
answers and wherever they were then; students who left are not counted. The query is one GROUP
BY over the students with each one's responses in the campaign, both read from covering
indexes alone (``ix_student_status_school_grade_class``, ``ix_screening_response_coverage``,
migration 0013). The district view reads the job's count per school and grade instead
(``CoverageTally``, every ``TALLY_MINUTES``; live when it is older than ``TALLY_FRESH`` and the
campaign was still open): summing every response of a campaign of the whole district takes
seconds.

The names of the students not screened (missing, incomplete or voided) are listed only for the
school's psychology teacher (a case worker there) looking at their one school: name (by
pinyin) and class, nothing else; downloading them needs a reason
(``reports.named_views``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Hashable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Integer, Select, case, func, literal, select
from sqlalchemy.orm import Session

from ...core.authz import Permission, Principal, Role
from ...orgs.labels import class_label, class_number, grade_label
from ...orgs.models import School, SchoolClass
from ...screening.engine.instruments import builtin_instruments
from ...screening.models import Campaign, CampaignSchool, Response
from ...students.collation import pinyin_key
from ...students.models import Student, StudentStatus
from ..catalog import NamedList, ReportFilters, ReportPage, ReportSpec
from ..models import CoverageTally
from ..suppression import Path
from ..tables import ReportTable, Share

KEY = "coverage"
SCREENED, MISSING, VOIDED, INCOMPLETE = range(4)
EXPORT_ENDPOINT = "reports_named.unscreened"
TALLY_MINUTES = 15  # the job's interval (reports.jobs)
TALLY_FRESH = dt.timedelta(hours=2)  # an older count of an open campaign is counted again live


def campaign_for(
    session: Session, school_ids: tuple[uuid.UUID, ...] | list[uuid.UUID], filters: ReportFilters
) -> Campaign | None:
    """The chosen campaign if one of ``school_ids`` takes part in it; else the latest campaign
    (by opening date) they take part in that has opened, or the next one to open."""
    if not school_ids:
        return None
    stmt = (
        select(Campaign)
        .where(
            Campaign.id.in_(
                select(CampaignSchool.campaign_id).where(CampaignSchool.school_id.in_(school_ids))
            )
        )
        .order_by(Campaign.opens_on.desc(), Campaign.created_at.desc(), Campaign.id)
    )
    if filters.campaign_id is not None:
        return session.scalars(stmt.where(Campaign.id == filters.campaign_id)).first()
    today = filters.now.astimezone(filters.tz).date()
    opened = session.scalars(stmt.where(Campaign.opens_on <= today).limit(1)).first()
    if opened is not None:
        return opened
    return session.scalars(
        stmt.order_by(None).order_by(Campaign.opens_on, Campaign.id).limit(1)
    ).first()


def campaign_schools(
    session: Session, campaign: Campaign, school_ids: tuple[uuid.UUID, ...] | list[uuid.UUID]
) -> list[uuid.UUID]:
    return sorted(
        session.scalars(
            select(CampaignSchool.school_id).where(
                CampaignSchool.campaign_id == campaign.id, CampaignSchool.school_id.in_(school_ids)
            )
        ),
        key=str,
    )


def expected_per_grade(campaign: Campaign, grade: int | None = None) -> dict[int, int]:
    """How many of the campaign's instruments each target grade is to answer (grades no
    instrument is meant for are not targets)."""
    installed = builtin_instruments()
    out: dict[int, int] = {}
    for g in sorted(set(campaign.grades)):
        if grade is not None and g != grade:
            continue
        n = sum(
            1 for code in campaign.instruments
            if code not in installed or g in installed[code].grades
        )  # fmt: skip
        if n:
            out[g] = n
    return out


def _needed(expected: dict[int, int]) -> ColumnElement[int]:
    return case(*((Student.grade == g, literal(n)) for g, n in expected.items()), else_=literal(0))


def _status(campaign: Campaign, expected: dict[int, int]) -> tuple[Any, ColumnElement[int]]:
    """The per-student response summary of the campaign (a subquery to join, read from the
    covering index ``ix_screening_response_coverage``) and each student's column (0..3)."""
    answered = (
        select(
            Response.student_id.label("student_id"),
            func.max(case((Response.voided.is_(True), 1), else_=0)).label("voided"),
            func.sum(
                case((Response.voided.is_(False) & Response.incomplete.is_(False), 1), else_=0)
            ).label("complete"),
        )
        .where(Response.campaign_id == campaign.id)
        .group_by(Response.student_id)
        .subquery("answered")
    )
    status = case(
        (answered.c.student_id.is_(None), MISSING),
        (answered.c.voided == 1, VOIDED),
        (answered.c.complete >= _needed(expected), SCREENED),
        else_=INCOMPLETE,
    )
    return answered, status


def _status_of_each(campaign: Campaign, expected: dict[int, int]) -> ColumnElement[int]:
    """The same column as :func:`_status`, as a correlated subquery: one probe of the covering
    index per student, cheaper than reading the whole campaign when few schools are shown."""
    r = Response.__table__.alias("r")
    summary = case(
        (func.count() == 0, MISSING),
        (func.max(case((r.c.voided.is_(True), 1), else_=0)) == 1, VOIDED),
        (
            func.sum(case((r.c.incomplete.is_(False), 1), else_=0)) >= _needed(expected),
            SCREENED,
        ),
        else_=INCOMPLETE,
    )
    return (
        select(summary)
        .where(r.c.campaign_id == campaign.id, r.c.student_id == Student.id)
        .scalar_subquery()
    )


def _eligible(
    select_: Select[Any], school_ids: list[uuid.UUID], expected: dict[int, int]
) -> Select[Any]:
    return select_.where(
        Student.status == StudentStatus.ACTIVE, Student.school_id.in_(school_ids),
        Student.grade.in_(list(expected)),
    )  # fmt: skip


def counts(
    session: Session, campaign: Campaign, school_ids: list[uuid.UUID], expected: dict[int, int],
    *, depth: int,
) -> dict[Path, list[int]]:  # fmt: skip
    """``{path: [screened, missing, voided, incomplete]}``, the path ``(school_id,)`` (depth 1),
    ``(school_id, grade)`` (2) or ``(school_id, grade, class_id)`` (3).

    By class (one school): each student's responses probed through the index; by school or
    grade (many schools): the campaign's responses summed per student once, joined to the
    students."""
    if not school_ids or not expected:
        return {}
    keys: list[Any] = [Student.school_id, Student.grade, Student.class_id][:depth]
    if depth == 3:
        per_student = _eligible(
            select(*keys, _status_of_each(campaign, expected).label("status")),
            school_ids, expected,
        ).subquery("per_student")  # fmt: skip
        columns = [per_student.c[k.key] for k in keys]
        stmt = select(*columns, per_student.c.status, func.count().cast(Integer)).group_by(
            *columns, per_student.c.status
        )
    else:
        answered, status = _status(campaign, expected)
        stmt = _eligible(
            select(*keys, status.label("status"), func.count().cast(Integer))
            .select_from(Student)
            .outerjoin(answered, answered.c.student_id == Student.id),
            school_ids, expected,
        ).group_by(*keys, status)  # fmt: skip
    out: dict[Path, list[int]] = {}
    for *key, column, n in session.execute(stmt):
        out.setdefault(tuple(key), [0, 0, 0, 0])[int(column)] += int(n)
    return out


def tallied(
    session: Session, campaign: Campaign, school_ids: list[uuid.UUID], grade: int | None,
    *, now: dt.datetime, tz: dt.tzinfo,
) -> tuple[dict[Path, list[int]], dt.datetime] | None:  # fmt: skip
    """The job's counts per school (``CoverageTally``) and when they were taken, if it counted
    the campaign recently (``TALLY_FRESH``) or after it closed; None otherwise."""
    taken = session.scalar(
        select(func.min(CoverageTally.taken_at)).where(CoverageTally.campaign_id == campaign.id)
    )
    if taken is None:
        return None
    closed = campaign.closes_on < taken.astimezone(tz).date()
    if not closed and taken < now - TALLY_FRESH:
        return None
    t = CoverageTally
    stmt = (
        select(
            t.school_id, func.sum(t.screened), func.sum(t.missing), func.sum(t.voided),
            func.sum(t.incomplete),
        )
        .where(t.campaign_id == campaign.id, t.school_id.in_(school_ids))
        .group_by(t.school_id)
    )  # fmt: skip
    if grade is not None:
        stmt = stmt.where(t.grade == grade)
    found = {
        (school_id,): [int(n or 0) for n in numbers]
        for school_id, *numbers in session.execute(stmt)
    }
    return {path: row for path, row in found.items() if any(row)}, taken


def unscreened(
    session: Session, campaign: Campaign, school_id: uuid.UUID, grade: int | None = None
) -> list[tuple[Student, str]]:
    """The enrolled students of ``school_id`` the campaign targets who are not screened
    (missing, incomplete or voided), with their class, ordered by the pinyin of their names."""
    expected = expected_per_grade(campaign, grade)
    if not expected:
        return []
    stmt = _eligible(
        select(Student, SchoolClass.label).outerjoin(
            SchoolClass, SchoolClass.id == Student.class_id
        ),
        [school_id], expected,
    ).where(_status_of_each(campaign, expected) != SCREENED)  # fmt: skip
    rows = [
        (student, class_label(student.grade, label)) for student, label in session.execute(stmt)
    ]
    rows.sort(key=lambda row: (pinyin_key(row[0].name), row[1], str(row[0].id)))
    return rows


def sees_names(principal: Principal, filters: ReportFilters) -> bool:
    """The school's psychology teacher, looking at their one school."""
    return (
        not filters.district
        and len(filters.school_ids) == 1
        and filters.school_ids[0] in principal.school_ids(Role.PSYCH_TEACHER)
    )


def _labels(session: Session, paths: list[Path]) -> tuple[dict[Hashable, str], Any]:
    """Every path element's label, and the sort key of the rows (school name, grade, class
    number)."""
    school_ids = {p[0] for p in paths}
    class_ids = {p[2] for p in paths if len(p) > 2 and p[2] is not None}
    names: dict[Hashable, str] = {
        s.id: s.name for s in session.scalars(select(School).where(School.id.in_(school_ids)))
    }
    for path in paths:
        if len(path) > 1:
            names[path[1]] = grade_label(int(str(path[1])))
    order: dict[Hashable, tuple[int, str]] = {}
    for c in session.scalars(select(SchoolClass).where(SchoolClass.id.in_(class_ids))):
        names[c.id] = class_label(c.grade, c.label)
        order[c.id] = (class_number(c.label) or 0, c.label)
    names[None] = _("No class")

    def key(item: tuple[Path, list[int]]) -> tuple[Any, ...]:
        path = item[0]
        parts: list[Any] = [pinyin_key(names.get(path[0], "")), str(path[0])]
        if len(path) > 1:
            parts += [path[1], order.get(path[2], (10**6, "")), str(path[2])]
        return tuple(parts)

    return names, key


def table(
    session: Session, campaign: Campaign | None, filters: ReportFilters, notes: list[str]
) -> tuple[ReportTable, list[uuid.UUID]]:
    """The coverage table (raw counts) and the schools it covers; says in ``notes`` when the
    counts are the job's (the district view)."""
    by_class = not filters.district
    school_ids = campaign_schools(session, campaign, filters.school_ids) if campaign else []
    expected = expected_per_grade(campaign, filters.grade) if campaign else {}
    found: dict[Path, list[int]] = {}
    if campaign is not None and by_class:
        found = counts(session, campaign, school_ids, expected, depth=3)
    elif campaign is not None:
        tally = tallied(
            session, campaign, school_ids, filters.grade, now=filters.now, tz=filters.tz
        )
        found = tally[0] if tally else counts(session, campaign, school_ids, expected, depth=1)
        if tally:
            when = tally[1].astimezone(filters.tz).strftime("%Y-%m-%d %H:%M")
            notes.append(
                _(
                    "Counted at %(time)s (the district view is recounted every quarter of "
                    "an hour).",
                    time=when,
                )
            )  # fmt: skip
    rows = list(found.items())
    names, order = _labels(session, [p for p, _c in rows])
    rows.sort(key=order)
    labels: dict[Path, str] = {}
    for path, _counts in rows:
        for level in range(1, len(path) + 1):
            labels.setdefault(path[:level], names.get(path[level - 1], ""))
    headings = [_("School"), _("Grade"), _("Class")]
    return ReportTable(
        key="coverage.by_class" if by_class else "coverage.by_school",
        title=_("Coverage by grade and class") if by_class else _("Coverage by school"),
        level_headings=headings if by_class else headings[:1],
        columns=[_("Screened"), _("Missing"), _("Voided"), _("Incomplete")],
        rows=rows, labels=labels, show_depth=3 if by_class else 1,
        total_heading=_("Students to screen"),
        shares=[Share(_("Coverage"), SCREENED)], chart="bars", school_ids=set(school_ids),
    ), school_ids  # fmt: skip


def build(session: Session, principal: Principal, filters: ReportFilters) -> ReportPage:
    campaign = campaign_for(session, filters.school_ids, filters)
    counted: list[str] = []
    report, school_ids = table(session, campaign, filters, counted)
    notes = [
        _(
            "Screened: every questionnaire of the campaign answered completely. Incomplete: "
            "some answers recorded. Voided: answers that could not be used (a validity check). "
            "Missing: no answers. Students count in their current school and class."
        )
    ]
    if campaign is None:
        notes.insert(0, _("No screening campaign covers these schools."))
        return ReportPage(_("Screening coverage"), [report], notes)
    notes.insert(
        0, _("Campaign: %(name)s, %(opens)s to %(closes)s.", name=campaign.name,
             opens=campaign.opens_on.isoformat(), closes=campaign.closes_on.isoformat()),
    )  # fmt: skip
    notes += counted
    named = None
    if sees_names(principal, filters) and school_ids:
        students = unscreened(session, campaign, school_ids[0], filters.grade)
        named = NamedList(
            title=_("Students not screened yet"),
            head=[_("Name"), _("Class")],
            rows=[[student.name or "", klass] for student, klass in students],
            export_endpoint=EXPORT_ENDPOINT,
            student_ids=[student.id for student, _k in students],
        )
    return ReportPage(_("Screening coverage"), [report], notes, named)


SPECS = [
    ReportSpec(
        key=KEY,
        title=_l("Screening coverage"),
        description=_l(
            "For a screening campaign: students screened, missing, voided and incomplete, by "
            "school, grade and class."
        ),
        filters=("school", "grade", "campaign"),
        build=build,
        permission=Permission.STATS_SCHOOL,
    )
]
