"""Referral turnaround per health partner, and referrals by their state now (issue 16 item 1).

*Per partner*: every sending of a referral to a partner in the period (the ``sent`` rows of the
history, ``referral_event``; a referral declined by one partner and sent to another counts
once for each) with, from the same history and the same partner, the first acknowledgement,
the first appointment given (``scheduled``) and the feedback. Times run from the sending: the
median and the 90th percentile (linear interpolation, :func:`referrals.queries.percentile`) of
the hours to the acknowledgement and of the days to the first appointment and to the
feedback, each over the sendings that reached it, and shown only when their count is visible
and reaches the threshold (``Statistic.basis``: a median of one feedback time is that
child's). Attendance rate: appointments attended over appointments whose attendance was
recorded. Feedback rate: feedback received
over sendings at which feedback is due (received, or attended and past the partner's feedback
deadline, ``Referral.due_at`` of the ``feedback`` milestone).

*By state*: referrals that left the school in the period (``submitted_at``: submitted to the
centre or sent straight to a partner; drafts are the school's alone) by the state they are in
now, per school (district view) or per grade (one school).

The state table is one GROUP BY. The partner table reads one row per sending of the period
(never per student): its durations, computed in SQL from the history (index on
``referral_id``), which the percentiles need, and its flags, counted as they come.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from ...core.authz import Principal
from ...core.states import state_label
from ...referrals.models import (
    Appointment,
    HealthPartner,
    Referral,
    ReferralEvent,
    ReferralState,
)
from ...referrals.queries import percentile
from ..catalog import ReportFilters, ReportPage, ReportSpec
from ..suppression import Path
from ..tables import ReportTable, Share, Statistic
from . import grouping

S = ReferralState
# The partner table's columns (indexes used by the shares and statistics).
SENT, ACKNOWLEDGED, SCHEDULED, APPOINTMENTS, ATTENDED, FEEDBACK_DUE, FEEDBACK = range(7)
# States a referral that left the school can be in (a draft never left it).
STATE_COLUMNS = tuple(s for s in ReferralState if s != S.DRAFT)
# The statistics' durations and their unit (divisor of hours): hours to the acknowledgement,
# days to the first appointment given and to the feedback.
DURATIONS = {"ack": 1.0, "scheduled": 24.0, "feedback": 24.0}


def _hours(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in hours, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


@dataclass
class Figures:
    counts: dict[uuid.UUID, list[int]] = field(default_factory=dict)
    # "ack" (hours), "scheduled", "feedback" (days): per partner and for all (the empty path)
    durations: dict[str, dict[Path, list[float]]] = field(default_factory=dict)


def _sendings(session: Session, filters: ReportFilters) -> Any:
    """One row per sending of a referral to a partner in the period: the hours from it to the
    partner's first acknowledgement, first appointment given and feedback (None when not
    reached), whether feedback is due now, and the referral's appointments with attendance
    recorded and attended. A partner is sent a referral once at most (one that declined may
    not be sent it again), and only the partner that acknowledged it gives appointments."""
    sent, step = aliased(ReferralEvent, name="sent"), aliased(ReferralEvent, name="step")

    def hours_to(state: S) -> ColumnElement[Any]:
        first = (
            select(func.min(step.at))
            .where(step.referral_id == sent.referral_id, step.partner_id == sent.partner_id,
                   step.to_state == str(state))
            .scalar_subquery()
        )  # fmt: skip
        return _hours(session, sent.at, first)

    def appointments(*where: ColumnElement[bool]) -> ColumnElement[Any]:
        count = (
            select(func.count())
            .where(Appointment.referral_id == sent.referral_id, *where)
            .scalar_subquery()
        )
        return case((Referral.partner_id == sent.partner_id, count), else_=0)

    due = and_(
        Referral.partner_id == sent.partner_id, Referral.state == str(S.ATTENDED),
        Referral.due_milestone == "feedback", Referral.due_at < filters.now,
    )  # fmt: skip
    stmt = select(
        sent.partner_id, hours_to(S.ACKNOWLEDGED), hours_to(S.SCHEDULED),
        hours_to(S.FEEDBACK), case((due, 1), else_=0),
        appointments(Appointment.attendance.is_not(None)),
        appointments(Appointment.attendance == "attended"),
    ).join(Referral, Referral.id == sent.referral_id)  # fmt: skip
    # rows are partners: the student is read only for a grade filter (district=True)
    stmt = grouping.scoped(
        stmt, replace(filters, district=True), Referral.school_id, Referral.student_id
    )
    return stmt.where(
        sent.to_state == str(S.SENT), sent.partner_id.is_not(None),
        sent.at >= filters.since(), sent.at < filters.until(),
    )  # fmt: skip


def _figures(session: Session, filters: ReportFilters) -> Figures:
    """Counts per partner and the durations of the sendings of the period. The percentiles
    need every sending's durations, so they are read (one row per sending, never per
    student) and counted as they come."""
    figures = Figures(durations={name: defaultdict(list) for name in DURATIONS})
    for partner_id, ack, scheduled, feedback, due, recorded, attended in session.execute(
        _sendings(session, filters)
    ):
        row = figures.counts.setdefault(partner_id, [0] * 7)
        row[SENT] += 1
        row[ACKNOWLEDGED] += ack is not None
        row[SCHEDULED] += scheduled is not None
        row[FEEDBACK] += feedback is not None
        row[FEEDBACK_DUE] += feedback is not None or bool(due)
        row[APPOINTMENTS] += int(recorded or 0)
        row[ATTENDED] += int(attended or 0)
        for name, hours in zip(DURATIONS, (ack, scheduled, feedback), strict=True):
            if hours is not None:
                value = float(hours) / DURATIONS[name]
                figures.durations[name][(partner_id,)].append(value)
                figures.durations[name][()].append(value)
    return figures


def _statistics(durations: dict[str, dict[Path, list[float]]]) -> list[Statistic]:
    """Median and 90th percentile of each step; the basis of each is the count of the sendings
    that reached the step (the group the figure describes: a median of one feedback time is
    that child's)."""
    headings = {
        "ack": (ACKNOWLEDGED, _l("Hours to acknowledgement: median"),
                _l("Hours to acknowledgement: 90th percentile")),
        "scheduled": (SCHEDULED, _l("Days to first appointment given: median"),
                      _l("Days to first appointment given: 90th percentile")),
        "feedback": (FEEDBACK, _l("Days to feedback: median"),
                     _l("Days to feedback: 90th percentile")),
    }  # fmt: skip
    out = []
    for name, (basis, median, p90) in headings.items():
        values = durations[name]
        for heading, q in ((median, 0.5), (p90, 0.9)):
            out.append(
                Statistic(str(heading), {path: percentile(v, q) for path, v in values.items()},
                          basis=basis, digits=1)
            )  # fmt: skip
    return out


def partner_table(session: Session, filters: ReportFilters) -> ReportTable:
    figures = _figures(session, filters)
    counts = figures.counts
    names: dict[uuid.UUID, str] = {}
    if counts:
        found = select(HealthPartner.id, HealthPartner.name).where(
            HealthPartner.id.in_(list(counts))
        )
        names = {partner_id: name for partner_id, name in session.execute(found)}
    order = sorted(counts, key=lambda p: (names.get(p, ""), str(p)))
    rows: list[tuple[Path, list[int]]] = [((p,), counts[p]) for p in order]
    return ReportTable(
        key="referral_turnaround.by_partner",
        title=str(_l("Turnaround by health partner")),
        level_headings=[str(_l("Health partner"))],
        columns=[
            str(_l("Referrals sent")),
            str(_l("Acknowledged")),
            str(_l("First appointment given")),
            str(_l("Appointments with attendance recorded")),
            str(_l("Appointments attended")),
            str(_l("Feedback due by now")),
            str(_l("Feedback received")),
        ],
        rows=rows,
        labels={(p,): names.get(p, "") for p in order},
        row_totals=False,
        shares=[
            Share(str(_l("Attendance rate")), ATTENDED, APPOINTMENTS),
            Share(str(_l("Feedback rate")), FEEDBACK, FEEDBACK_DUE),
        ],
        statistics=_statistics(figures.durations),
        chart="bars",
        school_ids=set(filters.school_ids),
    )


def state_table(session: Session, filters: ReportFilters) -> ReportTable:
    """Referrals that left the school in the period, by the state they are in now."""
    keys = grouping.keys(filters, Referral.school_id)
    stmt = select(*keys, Referral.state, func.count()).where(
        Referral.submitted_at >= filters.since(), Referral.submitted_at < filters.until()
    )
    stmt = grouping.scoped(stmt, filters, Referral.school_id, Referral.student_id)
    column = {str(s): i for i, s in enumerate(STATE_COLUMNS)}
    counts: dict[Path, list[int]] = {}
    for *key, state, count in session.execute(stmt.group_by(*keys, Referral.state)):
        row = counts.setdefault(tuple(key), [0] * len(STATE_COLUMNS))
        if str(state) in column:
            row[column[str(state)]] += int(count)
    rows, labels = grouping.assemble(session, filters, counts, len(STATE_COLUMNS))
    levels = grouping.levels(filters)
    return ReportTable(
        key="referral_turnaround.by_state",
        title=str(_l("Referrals of the period by their state now")),
        level_headings=levels,
        columns=[state_label(s) for s in STATE_COLUMNS],
        rows=rows,
        labels=labels,
        show_depth=len(levels),
        total_heading=str(_l("Referrals")),
        chart="none",  # thirteen states side by side: the table reads better than any chart
        school_ids=set(filters.school_ids),
    )


def build(session: Session, principal: Principal, filters: ReportFilters) -> ReportPage:
    return ReportPage(
        title=str(_l("Referral turnaround")),
        tables=[partner_table(session, filters), state_table(session, filters)],
        notes=[
            str(
                _l(
                    "A referral counts for each partner it was sent to in the period. Times run "
                    "from its sending to the partner's acknowledgement, to the first appointment "
                    "the partner gave and to the feedback, over the referrals that reached each "
                    "step."
                )
            ),
            str(
                _l(
                    "Feedback is due once the student attended and the partner's feedback "
                    "deadline passed. The table by state counts the referrals that left the "
                    "school in the period."
                )
            ),
        ],
    )


SPECS = [
    ReportSpec(
        key="referral_turnaround",
        title=_l("Referral turnaround"),
        description=_l("Per health partner: referrals sent, the median and 90th percentile "
                       "times to acknowledgement, appointment and feedback, attendance and "
                       "feedback rates; referrals by their state now."),
        filters=("school", "grade", "period"),
        build=build,
    )
]  # fmt: skip
