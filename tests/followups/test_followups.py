"""Follow-ups with a controlled clock: cadence across tier changes, completion, overdue scan
and its alert, the morning digest."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from wellbeing.alerts.models import Alert
from wellbeing.alerts.services import escalation_scan
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden, Role
from wellbeing.followups import services
from wellbeing.followups.models import CANCELLED, DONE, OPEN, OVERDUE, FollowUp
from wellbeing.notify.models import Notice, OutboxMessage
from wellbeing.risk.services import apply_tier

from ..factories import make_school, make_user
from .helpers import NOW, principal, school_world


def active(session, student):  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(FollowUp).where(
                FollowUp.student_id == student.id, FollowUp.state.in_((OPEN, OVERDUE))
            )
        )
    )


def test_cadence_follows_tier_changes(db_session, env, audit_entries):
    _school, staff, student = school_world(db_session, env.settings)
    with time_machine.travel(NOW, tick=False):
        apply_tier(db_session, None, student, 1, source="screening")
        [yellow] = active(db_session, student)
        assert (yellow.source, yellow.due_at, yellow.owner_id) == (
            "cadence",
            NOW + dt.timedelta(days=30),
            staff["psych_teacher"].id,
        )
    later = NOW + dt.timedelta(days=3)
    with time_machine.travel(later, tick=False):
        apply_tier(db_session, None, student, 2, source="screening")
        [orange] = active(db_session, student)
        assert orange.due_at == later + dt.timedelta(days=7)
        assert yellow.state == CANCELLED and yellow.cancelled_at == later
        apply_tier(db_session, None, student, 3, source="screening")
        [red] = active(db_session, student)
        assert red.due_at == later + dt.timedelta(days=1) and orange.state == CANCELLED
    creates = audit_entries(AuditAction.FOLLOWUP_CREATE)
    assert len(creates) == 3 and {e.detail["source"] for e in creates} == {"cadence"}
    assert len(audit_entries(AuditAction.FOLLOWUP_CANCEL)) == 2


def test_green_has_no_cadence(db_session, env):
    _school, staff, student = school_world(db_session, env.settings)
    psych = principal(db_session, staff["psych_teacher"])
    with time_machine.travel(NOW, tick=False):
        apply_tier(db_session, None, student, 1, source="screening")
        assert len(active(db_session, student)) == 1
        apply_tier(db_session, psych, student, 0, source="manual", reason="resolved after talk")
    assert active(db_session, student) == []


def test_owner_is_first_psych_teacher_else_leader(db_session, env):
    school = make_school(db_session)
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=school)
    assert services.default_owner_id(db_session, school.id) == leader.id
    first = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    assert services.default_owner_id(db_session, school.id) == first.id
    first.active = False
    db_session.flush()
    assert services.default_owner_id(db_session, school.id) != first.id


def test_complete_schedules_next_cadence(db_session, env, audit_entries):
    _school, staff, student = school_world(db_session, env.settings)
    psych = principal(db_session, staff["psych_teacher"])
    with time_machine.travel(NOW, tick=False):
        apply_tier(db_session, None, student, 2, source="screening")
        [first] = active(db_session, student)
    done_at = NOW + dt.timedelta(days=6)
    nxt = services.complete_followup(
        db_session, psych, first, outcome="seen", note="谈话顺利", now=done_at
    )
    assert (first.state, first.outcome, first.note, first.completed_by) == (
        DONE,
        "seen",
        "谈话顺利",
        psych.user_id,
    )
    assert (
        nxt is not None and nxt.due_at == done_at + dt.timedelta(days=7) and nxt.source == "cadence"
    )
    entry = audit_entries(AuditAction.FOLLOWUP_COMPLETE)[-1]
    assert entry.detail == {"outcome": "seen", "source": "cadence"} and "谈话" not in str(
        entry.detail
    )
    with pytest.raises(services.FollowUpError):
        services.complete_followup(
            db_session, psych, first, outcome="seen", note="again", now=done_at
        )


def test_rescheduled_needs_future_time_and_creates_replacement(db_session, env):
    _school, staff, student = school_world(db_session, env.settings)
    psych = principal(db_session, staff["psych_teacher"])
    f = services.schedule_followup(
        db_session, psych, student, due_at=NOW, owner_id=psych.user_id, source="manual"
    )
    with pytest.raises(services.FollowUpError):
        services.complete_followup(
            db_session, psych, f, outcome="rescheduled", note="absent", now=NOW
        )
    with pytest.raises(services.FollowUpError):
        services.complete_followup(db_session, psych, f, outcome="seen", note="", now=NOW)
    new = services.complete_followup(db_session, psych, f, outcome="rescheduled", note="student absent",
                                     reschedule_to=NOW + dt.timedelta(days=2), now=NOW)  # fmt: skip
    assert new is not None and (new.source, new.due_at, new.owner_id) == (
        "manual",
        NOW + dt.timedelta(days=2),
        psych.user_id,
    )
    assert f.state == DONE and f.outcome == "rescheduled"


def test_only_case_workers_of_the_school_manage(db_session, env):
    _school, staff, student = school_world(db_session, env.settings)
    other_school = make_school(db_session)
    other_psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=other_school)
    for user in (other_psych, staff["class_teacher"], staff["school_leader"]):
        with pytest.raises(Forbidden):
            services.schedule_followup(db_session, principal(db_session, user), student, due_at=NOW,
                                       owner_id=user.id, source="manual")  # fmt: skip
    with pytest.raises(services.FollowUpError):
        services.schedule_followup(
            db_session, None, student, due_at=NOW, owner_id=other_psych.id, source="whim"
        )


def test_overdue_scan_marks_and_raises_alert_that_escalates(db_session, env):
    _school, staff, student = school_world(db_session, env.settings)
    psych = principal(db_session, staff["psych_teacher"])
    due = services.schedule_followup(
        db_session, psych, student, due_at=NOW, owner_id=psych.user_id, source="manual"
    )
    later = services.schedule_followup(
        db_session,
        psych,
        student,
        due_at=NOW + dt.timedelta(days=1),
        owner_id=psych.user_id,
        source="manual",
    )
    db_session.flush()
    assert services.overdue_scan(db_session, NOW - dt.timedelta(seconds=1)) == 0
    assert services.overdue_scan(db_session, NOW + dt.timedelta(minutes=5)) == 1
    assert (due.state, due.overdue_at, later.state) == (
        OVERDUE,
        NOW + dt.timedelta(minutes=5),
        OPEN,
    )
    alerts = db_session.scalars(select(Alert).where(Alert.source_id == due.id)).all()
    assert (
        len(alerts) == 1
        and alerts[0].kind == "followup_overdue"
        and alerts[0].student_id == student.id
    )
    # a second scan reads nothing new and raises nothing new
    assert services.overdue_scan(db_session, NOW + dt.timedelta(minutes=10)) == 0
    assert len(db_session.scalars(select(Alert).where(Alert.source_id == due.id)).all()) == 1
    # the alert climbs the ladder when nobody acknowledges it
    steps = escalation_scan(db_session, NOW + dt.timedelta(days=10))
    assert steps >= 1
    # completing an overdue follow-up is allowed
    services.complete_followup(
        db_session,
        psych,
        due,
        outcome="not_seen",
        note="absent, sick",
        now=NOW + dt.timedelta(hours=1),
    )
    assert due.state == DONE


def test_morning_digest_counts_only_in_user_language(db_session, env):
    _school, staff, student = school_world(db_session, env.settings)
    psych_user = staff["psych_teacher"]
    psych_user.email, psych_user.locale = "psych@school.example", "en"
    psych = principal(db_session, psych_user)
    at7 = dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC)  # 07:00 Tuesday in Shanghai
    for due in (
        at7 - dt.timedelta(days=1),
        at7 + dt.timedelta(hours=2),
        at7 + dt.timedelta(hours=10),
        at7 + dt.timedelta(days=2),
    ):
        services.schedule_followup(
            db_session, psych, student, due_at=due, owner_id=psych.user_id, source="manual"
        )
    db_session.flush()
    assert services.morning_digest(db_session, env.settings, at7) == 1
    assert (
        services.morning_digest(db_session, env.settings, at7 + dt.timedelta(minutes=1)) == 0
    )  # once a day
    [notice] = db_session.scalars(select(Notice).where(Notice.user_id == psych_user.id)).all()
    assert notice.params == {"today": 2, "overdue": 1} and notice.ref == "2026-03-03"
    [mail] = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.user_id == psych_user.id)
    ).all()
    assert mail.kind == "digest" and mail.recipient == "psych@school.example"
    assert "2 follow-ups are due today." in mail.body and "1 follow-up is overdue." in mail.body
    assert (
        "/agenda" in mail.body
        and student.name not in mail.body
        and student.name not in mail.subject
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=6))
def test_at_most_one_active_cadence_followup_whatever_the_rises(db_session, env, rises):
    _school, _staff, student = school_world(db_session, env.settings)
    expected_days = {1: 30, 2: 7, 3: 1}
    with time_machine.travel(NOW, tick=False):
        for tier in rises:
            apply_tier(db_session, None, student, tier, source="screening")
    cadence = [f for f in active(db_session, student) if f.source == "cadence"]
    assert len(cadence) == 1
    assert cadence[0].due_at == NOW + dt.timedelta(days=expected_days[student.tier])
