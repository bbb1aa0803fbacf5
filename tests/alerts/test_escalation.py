"""The escalation scan in bulk (``alerts.escalation``) gives every alert the rows, rung, next
step time and reminders that climbing it alone gives (``ladder.climb_rung`` / ``reference._remind``, one
alert at a time, as the scan did before), on a mixed set: several schools and tiers, a school
without staff, break-glass, a deactivated account, acknowledged and resolved alerts, alerts not
due yet; in one chunk or many. Audit: one entry per (school, kind, step, rung, role), the
per-alert entry for a single alert. Statements do not grow with the number of alerts."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import event, select

from wellbeing.alerts import services
from wellbeing.alerts.ladder import climb_rung, ladder_for
from wellbeing.alerts.models import Alert, AlertInbox, AlertRecipient, AlertStep
from wellbeing.alerts.notify import alert_settings, i18n_context
from wellbeing.audit.events import BREAK_GLASS_STARTED, BreakGlassStarted
from wellbeing.audit.models import BreakGlass
from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role

from ..core.bulk_world import build_world, rolled_back
from ..factories import make_class, make_school, make_student, make_user
from .reference import _remind

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
DAY = 24 * 60


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def per_alert_scan(session, now):
    """The scan as it was: every due alert climbed alone through ``climb_rung``/``_remind``."""
    steps = 0
    due = (
        select(Alert)
        .where(Alert.state == "open", Alert.next_step_at.is_not(None), Alert.next_step_at <= now)
        .order_by(Alert.next_step_at)
    )
    with i18n_context(alert_settings()):
        for alert in session.scalars(due).all():
            ladder = ladder_for(session, alert)
            while alert.state == "open" and alert.next_step_at <= now:
                if alert.rung + 1 < len(ladder.rungs):
                    steps += climb_rung(session, alert, ladder, alert.rung + 1, now, "escalate")
                else:
                    steps += _remind(session, alert, ladder, now)
    session.flush()
    return steps


def snapshot(session):
    """Every alert with its steps, inbox and recipients (row ids and outbox ids left out)."""
    session.expire_all()
    out = {}
    for a in session.scalars(select(Alert)):
        steps = {
            s.id: s for s in session.scalars(select(AlertStep).where(AlertStep.alert_id == a.id))
        }
        inbox = session.scalars(select(AlertInbox).where(AlertInbox.alert_id == a.id)).all()
        recipients = session.scalars(
            select(AlertRecipient).where(AlertRecipient.alert_id == a.id)
        ).all()
        out[a.id] = {
            "alert": (a.state, a.rung, a.reminders, a.next_step_at, a.due_at),
            "steps": sorted((s.rung, s.role, s.step, s.recipient_count, s.at) for s in steps.values()),
            "inbox": sorted((str(i.user_id), i.is_open, i.added_at) for i in inbox),
            "recipients": sorted(
                (str(r.user_id), r.rung, r.channel, r.notified_at, r.outbox_id is not None,
                 steps[r.step_id].step, steps[r.step_id].rung)
                for r in recipients
            ),
        }  # fmt: skip
    return out


@pytest.fixture
def mixed(db_session, env):
    """Alerts of every shape, raised at T0 unless said otherwise."""
    w = build_world(db_session, env.settings)
    third = make_school(db_session)  # a leader only: the psych rung is passed at once
    leader3 = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=third)
    sup1 = make_user(db_session, env.settings, Role.SUPERVISOR)
    sup2 = make_user(db_session, env.settings, Role.SUPERVISOR)
    for user in (leader3, sup1, sup2):
        user.email = f"{user.username}@district.example"
    pupils = [make_student(db_session, third, make_class(db_session, third)) for _ in range(3)]
    s, o = w.students, w.others

    def alert(kind, student, tier, minutes=0):
        return services.raise_alert(
            db_session, kind=kind, school_id=student.school_id, student_id=student.id,
            source_id=uuid.uuid4(), tier=tier, now=at(minutes),
        )  # fmt: skip

    alert("red_tier", s[0], 3)
    alert("red_tier", o[0], 3)  # no staff: straight to the counsellor on duty
    alert("followup_overdue", s[1], 2)
    alert("first_response_overdue", pupils[0], 1)
    alert("urgent_concern", pupils[1], 3)
    alert("red_tier", o[2], 3, minutes=100)  # due later
    acked = alert("red_tier", s[2], 3)
    resolved = alert("red_tier", o[1], 3)
    psych = build_principal(db_session, w.staff["psych"])
    services.acknowledge(db_session, psych, acked.id, now=at(5))
    c_duty = build_principal(db_session, w.staff["c_duty"])
    services.acknowledge(db_session, c_duty, resolved.id, now=at(5))
    services.resolve(db_session, c_duty, resolved.id, "Seen.", now=at(6))
    for breaker, student in ((sup1, s[3]), (sup2, pupils[2])):
        grant = BreakGlass(
            user_id=breaker.id, student_id=student.id, expires_at=at(60), reason="Review"
        )
        db_session.add(grant)
        db_session.flush()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("wellbeing.alerts.services.utcnow", lambda: T0)
            BREAK_GLASS_STARTED.emit(db_session, BreakGlassStarted.of(grant))
    w.staff["psych2"].active = False  # left after the raise: no reminders
    db_session.flush()
    return w


SCHEDULES = [
    [59],  # nothing due
    [61, 125, 200, 300, 2000, 5000, 12_000],  # every rung, widening, reminders
    [300],  # catch-up: several rungs in one run
    [3 * DAY, 8 * DAY, 8 * DAY + 60],  # past the top of every ladder at once
]


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_bulk_scan_equals_climbing_each_alert_alone(db_session, mixed, schedule):
    with rolled_back(db_session):
        one_by_one = []
        for minutes in schedule:
            steps = per_alert_scan(db_session, at(minutes))
            one_by_one.append((steps, snapshot(db_session)))
    in_bulk = []
    for minutes in schedule:
        steps = services.escalation_scan(db_session, at(minutes))
        in_bulk.append((steps, snapshot(db_session)))
    assert [s for s, _ in in_bulk] == [s for s, _ in one_by_one]
    for (_, bulk), (_, alone) in zip(in_bulk, one_by_one, strict=True):
        assert bulk == alone
    if schedule != [59]:
        assert sum(s for s, _ in in_bulk) > 0


def test_only_due_open_alerts_are_touched(db_session, mixed):
    before = snapshot(db_session)
    services.escalation_scan(db_session, at(61))
    after = snapshot(db_session)
    [red] = db_session.scalars(select(Alert.id).where(Alert.student_id == mixed.students[0].id))
    assert {k for k in after if after[k] != before[k]} == {red}
    closed = set(db_session.scalars(select(Alert.id).where(Alert.state != "open")))
    assert len(closed) == 2
    services.escalation_scan(db_session, at(30 * DAY))
    later = snapshot(db_session)
    assert {k: later[k] for k in closed} == {k: before[k] for k in closed}
    assert all(later[k] != before[k] for k in later if k not in closed)


def test_chunks_give_the_same_result_and_one_email_per_person(db_session, mixed):
    from wellbeing.notify.models import OutboxMessage

    schedule = [125, 5000]
    with rolled_back(db_session):
        whole = [
            (services.escalation_scan(db_session, at(m)), snapshot(db_session)) for m in schedule
        ]
    chunked = []
    for minutes in schedule:
        mails = set(db_session.scalars(select(OutboxMessage.id)))
        steps = services.escalation_scan(db_session, at(minutes), chunk=2)
        chunked.append((steps, snapshot(db_session)))
        fresh = db_session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.not_in(mails))
        ).all()
        users = [m.user_id for m in fresh]
        assert len(users) == len(set(users))  # one email per person per run, across chunks
    assert chunked == whole


def test_a_limit_caps_the_run(db_session, mixed):
    def due():
        return len(db_session.scalars(
            select(Alert.id).where(Alert.state == "open", Alert.next_step_at <= at(3 * DAY))
        ).all())  # fmt: skip

    before = due()
    assert services.escalation_scan(db_session, at(3 * DAY), limit=2, chunk=1) >= 2
    assert due() == before - 2 and before > 2
    services.escalation_scan(db_session, at(3 * DAY))
    assert due() == 0


def test_one_audit_entry_per_school_kind_step_and_rung(db_session, env, audit_entries):
    w = build_world(db_session, env.settings)
    for student in w.students[:3]:
        services.raise_alert(
            db_session, kind="red_tier", school_id=w.school.id, student_id=student.id,
            source_id=uuid.uuid4(), tier=3, now=T0,
        )  # fmt: skip
    single = services.raise_alert(
        db_session, kind="red_tier", school_id=w.bare.id, student_id=w.others[0].id,
        source_id=uuid.uuid4(), tier=3, now=T0,
    )  # fmt: skip
    raised = len(audit_entries(AuditAction.ALERT_ESCALATE))  # the bare school's empty rungs
    services.escalation_scan(db_session, at(61))
    [batch] = audit_entries(AuditAction.ALERT_ESCALATE)[raised:]  # the bare one is not due
    assert batch.object_type == "alert_batch" and batch.school_id == w.school.id
    assert batch.student_id is None and batch.object_id is None
    assert batch.detail == {
        "kind": "red_tier", "step": "escalate", "rung": 1, "role": "school_leader",
        "recipients": [str(w.staff["leader"].id)], "alerts": 3,
    }  # fmt: skip
    services.escalation_scan(db_session, at(181))  # the three reach the counsellor; single widens
    entries = audit_entries(AuditAction.ALERT_ESCALATE)[raised + 1 :]
    by_type = {e.object_type: e for e in entries}
    assert len(entries) == 2
    assert by_type["alert_batch"].detail["alerts"] == 3
    assert by_type["alert_batch"].detail["step"] == "escalate"
    one = by_type["alert"]
    assert (one.object_id, one.student_id, one.school_id) == (
        str(single.id),
        w.others[0].id,
        w.bare.id,
    )
    assert {k: v for k, v in one.detail.items() if k != "recipients"} == {
        "kind": "red_tier", "step": "widen", "rung": 2, "role": "counsellor",
    }  # fmt: skip
    assert sorted(one.detail["recipients"]) == sorted(
        str(w.staff[k].id) for k in ("c_duty", "c_off")
    )


def _statements(session, scan):
    seen = []
    engine = session.get_bind().engine

    def count(*args):
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        scan()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def test_statements_do_not_grow_with_the_number_of_alerts(db_session, env):
    w = build_world(db_session, env.settings)
    counts = []
    for n in (5, 60):
        with rolled_back(db_session):
            for _ in range(n):
                for school in (w.school, w.bare):
                    student = make_student(db_session, school)
                    services.raise_alert(
                        db_session, kind="red_tier", school_id=school.id, student_id=student.id,
                        source_id=uuid.uuid4(), tier=3, now=T0,
                    )  # fmt: skip
            db_session.flush()
            # leaders, then counsellors (catch-up) and widening: several steps, groups, emails
            seen = _statements(db_session, lambda: services.escalation_scan(db_session, at(181)))
            counts.append(len(seen))
            due = select(Alert.id).where(Alert.state == "open", Alert.next_step_at <= at(181))
            assert db_session.scalars(due).all() == []
            # raise + leader + counsellor; raise + two empty rungs + counsellor + widening
            assert len(db_session.scalars(select(AlertStep.id)).all()) == n * 3 + n * 4
    assert counts[1] <= counts[0] < 30, counts
