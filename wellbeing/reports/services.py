"""Dashboards: the policy check, the figures, and the DASHBOARD_VIEW audit entry.

Names are shown only for students the viewer may read (``RECORD_READ``: psych teachers and
school leaders for their school, counsellors for students escalated to the district); the
audit entry lists exactly those students.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, can, ensure
from ..core.states import state_label
from ..orgs.models import School
from ..referrals import queries as referral_queries
from ..referrals.models import ReferralState
from ..risk.services import has_special_care
from ..students.chip import chip_fields
from ..students.models import Student
from . import queries

TREND_MONTHS = 12


@dataclass
class NamedStudent:
    student: Student
    school: School | None
    crisis_opened_at: dt.datetime | None
    special_care: bool


def _names_fields(actor: Principal, names: list[NamedStudent], *, show_school: bool) -> list[str]:
    """The names table's audit fields: the chip (name, class; the school on the district page,
    in its own column), the grade and tier columns; the counts alone when nobody is named."""
    if not names:
        return ["counts"]
    students = [n.student for n in names]
    return [*chip_fields(actor, students, school=show_school, tier=False), "grade", "tier"]


def _named(
    session: Session, actor: Principal, students: list[Student], schools: dict[uuid.UUID, School]
) -> list[NamedStudent]:
    visible = [s for s in students if can(actor, Permission.RECORD_READ, s)]
    crises = queries.open_crisis_students(session, [s.id for s in visible])
    return [
        NamedStudent(
            s,
            schools.get(s.school_id),
            crises[s.id].opened_at if s.id in crises else None,
            has_special_care(s),
        )
        for s in visible
    ]


def _district_school_ids(session: Session, actor: Principal) -> list[uuid.UUID] | None:
    """The schools of the actor's district; None when that is every school (no IN list)."""
    district_ids = {s.district_id for s in actor.scopes if s.district_id}
    everything = queries.schools(session)
    if not district_ids or all(school.district_id in district_ids for school in everything):
        return None
    return [school.id for school in everything if school.district_id in district_ids]


# The report pages (``report_services``) resolve the district view the same way.
district_school_ids = _district_school_ids


def dashboard_schools(session: Session, actor: Principal) -> list[School]:
    """Schools whose dashboard the actor may open (their own; every school for district staff)."""
    ensure(actor, Permission.STATS_SCHOOL)
    if Role.COUNSELLOR in actor.roles:
        return queries.schools(session, _district_school_ids(session, actor))
    return queries.schools(session, sorted(actor.school_ids(), key=str))


def school_dashboard(
    session: Session, actor: Principal, school: School, *, now: dt.datetime, tz: dt.tzinfo
) -> dict[str, Any]:
    ensure(actor, Permission.STATS_SCHOOL, school)
    figures = queries.school_figures(session, now, [school.id]).get(
        school.id, queries.SchoolFigures()
    )
    names = _named(
        session, actor, queries.students_of_concern(session, school.id), {school.id: school}
    )
    months, series = queries.monthly_counts(session, now, tz, TREND_MONTHS, [school.id])
    since = queries.month_start(months[0], tz)
    overall, per_month = queries.sla(session, since, now, tz, [school.id])
    audit.record(
        session, AuditAction.DASHBOARD_VIEW, object_type="school_dashboard", object_id=school.id,
        school_id=school.id, fields=_names_fields(actor, names, show_school=False),
        detail={"students": [str(n.student.id) for n in names]},
    )  # fmt: skip
    return {
        "school": school, "figures": figures, "by_grade": queries.tier_by_grade(session, school.id),
        "names": names, "months": months, "series": series, "sla": overall, "sla_months": per_month,
    }  # fmt: skip


def district_dashboard(
    session: Session, actor: Principal, *, now: dt.datetime, tz: dt.tzinfo
) -> dict[str, Any]:
    ensure(actor, Permission.STATS_DISTRICT)
    school_ids = _district_school_ids(session, actor)
    schools = queries.schools(session, school_ids)
    by_id = {s.id: s for s in schools}
    figures = queries.school_figures(session, now, school_ids, district_queue=True)
    names: list[NamedStudent] = []
    if Permission.RECORD_READ in actor.permissions():
        escalated = [s for s in queries.escalated_students(session) if s.school_id in by_id]
        names = _named(session, actor, escalated, by_id)
    months, series = queries.monthly_counts(session, now, tz, TREND_MONTHS, None)
    since = queries.month_start(months[0], tz)
    overall, per_month = queries.sla(session, since, now, tz, school_ids)
    totals = queries.SchoolFigures()
    for fig in figures.values():
        for tier, count in fig.tiers.items():
            totals.tiers[tier] += count
        totals.alerts_open += fig.alerts_open
        totals.alerts_overdue += fig.alerts_overdue
        totals.alerts_acknowledged += fig.alerts_acknowledged
        totals.crises_open += fig.crises_open
        totals.followups_due += fig.followups_due
        totals.followups_overdue += fig.followups_overdue
    audit.record(
        session, AuditAction.DASHBOARD_VIEW, object_type="district_dashboard", object_id="district",
        fields=_names_fields(actor, names, show_school=True),
        detail={"students": [str(n.student.id) for n in names]},
    )  # fmt: skip
    return {
        "schools": schools, "figures": figures, "totals": totals, "names": names, "months": months,
        "series": series, "sla": overall, "sla_months": per_month,
        "referrals": referral_figures(session, {s.district_id for s in schools}),
    }  # fmt: skip


def referral_figures(session: Session, district_ids: set[uuid.UUID]) -> dict[str, Any]:
    """Open referrals by state and each partner's turnaround (median, 90th percentile; issue
    15 item 6) of the districts shown: organisations' times and counts, no child named."""
    by_state: dict[str, int] = {}
    partners: list[referral_queries.Turnaround] = []
    for district_id in sorted(district_ids):
        for state, count in referral_queries.open_by_state(session, district_id).items():
            by_state[state] = by_state.get(state, 0) + count
        partners += referral_queries.turnaround(session, district_id)
    labelled = [(state_label(ReferralState(state)), n) for state, n in by_state.items()]
    return {"by_state": labelled, "partners": partners}
