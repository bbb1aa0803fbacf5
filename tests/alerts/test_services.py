"""Alerts: raising, the escalation ladder under a controlled clock, acknowledging, resolving."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from wellbeing.alerts import services
from wellbeing.alerts.models import Alert, AlertInbox, AlertRecipient, AlertStep
from wellbeing.alerts.queries import open_count, sla_figures
from wellbeing.audit.events import BREAK_GLASS_STARTED, BreakGlassStarted
from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden, Role
from wellbeing.core.events import CRITICAL_RESPONSE, CriticalResponse
from wellbeing.notify.models import OutboxMessage
from wellbeing.risk.events import TIER_CHANGED, TierChanged

from ..factories import make_class, make_school, make_student, make_user

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


@pytest.fixture
def school_world(db_session, env):
    school = make_school(db_session)
    other = make_school(db_session)
    klass = make_class(db_session, school)
    people = {
        "psych": make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school),
        "psych2": make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school),
        "leader": make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=school),
        "teacher": make_user(
            db_session, env.settings, Role.CLASS_TEACHER, school=school, school_class=klass
        ),
        "c_duty": make_user(db_session, env.settings, Role.COUNSELLOR),
        "c_off": make_user(db_session, env.settings, Role.COUNSELLOR),
        "supervisor": make_user(db_session, env.settings, Role.SUPERVISOR),
        "supervisor2": make_user(db_session, env.settings, Role.SUPERVISOR),
        "other_psych": make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=other),
    }
    for key, user in people.items():
        user.email = f"{key}@district.example"
    people["leader"].locale = "en"
    people["c_duty"].on_duty = True
    student = make_student(db_session, school, klass, name="王小明")
    db_session.flush()
    return {"school": school, "other": other, "student": student, **people}


def principal(db_session, user):
    return build_principal(db_session, user)


def inbox_users(db_session, alert):
    return set(
        db_session.scalars(select(AlertInbox.user_id).where(AlertInbox.alert_id == alert.id))
    )


def steps_of(db_session, alert):
    return list(
        db_session.scalars(
            select(AlertStep).where(AlertStep.alert_id == alert.id).order_by(AlertStep.at)
        )
    )


def red(db_session, w, **kw):
    return services.raise_alert(
        db_session, kind="red_tier", school_id=w["school"].id, student_id=w["student"].id,
        source_id=kw.pop("source_id", uuid.uuid4()), tier=3, now=kw.pop("now", T0), **kw,
    )  # fmt: skip


def test_raise_notifies_psych_teachers_in_inbox_and_by_email_without_names(
    db_session, school_world, audit_entries
):
    w = school_world
    alert = red(db_session, w)
    assert alert.state == "open" and alert.rung == 0
    assert alert.due_at == minutes(60)  # red: acknowledge within 1 h (policy)
    assert alert.next_step_at == minutes(60)  # school leader after 1 h
    assert inbox_users(db_session, alert) == {w["psych"].id, w["psych2"].id}
    channels = {
        (r.user_id, r.channel)
        for r in db_session.scalars(
            select(AlertRecipient).where(AlertRecipient.alert_id == alert.id)
        )
    }
    assert channels == {
        (w["psych"].id, "inbox"),
        (w["psych"].id, "email"),
        (w["psych2"].id, "inbox"),
        (w["psych2"].id, "email"),
    }
    mails = list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")))
    assert len(mails) == 2
    for mail in mails:
        assert f"/alerts/{alert.id}" in mail.body
        assert "王小明" not in mail.body + mail.subject and "PHQ" not in mail.body
        assert "needs attention" in mail.body
    created = audit_entries(AuditAction.ALERT_CREATE)
    assert len(created) == 1 and created[0].object_id == str(alert.id)
    assert set(created[0].detail["recipients"]) == {str(w["psych"].id), str(w["psych2"].id)}
    assert open_count(db_session, w["psych"].id) == 1


def test_raise_is_idempotent_per_kind_and_source_while_unresolved(db_session, school_world):
    w = school_world
    source = uuid.uuid4()
    first = red(db_session, w, source_id=source)
    again = red(db_session, w, source_id=source)
    assert again.id == first.id
    other_kind = services.raise_alert(
        db_session,
        kind="followup_overdue",
        school_id=w["school"].id,
        student_id=w["student"].id,
        source_id=source,
    )
    assert other_kind.id != first.id
    services.acknowledge(db_session, principal(db_session, w["psych"]), first.id, now=minutes(5))
    assert red(db_session, w, source_id=source).id == first.id  # acknowledged is still unresolved
    services.resolve(
        db_session,
        principal(db_session, w["psych"]),
        first.id,
        "Met the student, guardian called.",
        now=minutes(30),
    )
    fresh = red(db_session, w, source_id=source, now=minutes(40))
    assert fresh.id != first.id and fresh.state == "open"


def test_red_alert_walks_every_rung_of_the_ladder(db_session, school_world, audit_entries):
    w = school_world
    alert = red(db_session, w)
    assert services.escalation_scan(db_session, minutes(59)) == 0
    assert alert.rung == 0

    assert services.escalation_scan(db_session, minutes(60)) == 1  # → school leader
    assert alert.rung == 1
    assert w["leader"].id in inbox_users(db_session, alert)
    assert alert.next_step_at == minutes(120)
    leader_mail = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.user_id == w["leader"].id)
    ).one()
    assert f"/alerts/{alert.id}" in leader_mail.body and "王小明" not in leader_mail.body

    assert services.escalation_scan(db_session, minutes(119)) == 0
    assert services.escalation_scan(db_session, minutes(120)) == 1  # → counsellor on duty only
    assert alert.rung == 2
    assert w["c_duty"].id in inbox_users(db_session, alert)
    assert w["c_off"].id not in inbox_users(db_session, alert)

    assert (
        services.escalation_scan(db_session, minutes(180)) == 1
    )  # top passed: widen to all counsellors
    assert w["c_off"].id in inbox_users(db_session, alert)
    assert services.escalation_scan(db_session, minutes(240)) == 1  # then reminders to everyone
    steps = steps_of(db_session, alert)
    assert [(s.step, s.role) for s in steps] == [
        ("raise", "psych_teacher"),
        ("escalate", "school_leader"),
        ("escalate", "counsellor"),
        ("widen", "counsellor"),
        ("remind", "counsellor"),
    ]
    assert steps[-1].recipient_count == 5  # both psych teachers, the leader, both counsellors
    escalations = audit_entries(AuditAction.ALERT_ESCALATE)
    assert [e.detail["step"] for e in escalations] == ["escalate", "escalate", "widen", "remind"]

    services.acknowledge(db_session, principal(db_session, w["c_off"]), alert.id, now=minutes(250))
    assert alert.state == "acknowledged" and alert.acknowledged_by_id == w["c_off"].id
    assert alert.next_step_at is None
    assert services.escalation_scan(db_session, minutes(10_000)) == 0
    assert len(steps_of(db_session, alert)) == 5
    assert open_count(db_session, w["psych"].id) == 0
    ack = audit_entries(AuditAction.ALERT_ACK)[-1]
    assert ack.detail["in_time"] is False and ack.detail["minutes"] == 250


def test_acknowledging_in_time_stops_the_climb(db_session, school_world):
    w = school_world
    alert = red(db_session, w)
    services.acknowledge(db_session, principal(db_session, w["psych2"]), alert.id, now=minutes(20))
    assert services.escalation_scan(db_session, minutes(600)) == 0
    assert w["leader"].id not in inbox_users(db_session, alert)
    assert sla_figures(db_session, school_id=w["school"].id).in_time == 1


def test_catch_up_climbs_every_due_rung_in_one_scan(db_session, school_world):
    w = school_world
    alert = red(db_session, w)
    assert services.escalation_scan(db_session, minutes(125)) == 2
    # The top rung was reached late (at 125 min): its people get a full interval before widening.
    assert alert.rung == 2 and alert.next_step_at == minutes(185)


def test_nobody_on_duty_means_all_district_counsellors(db_session, school_world):
    w = school_world
    w["c_duty"].on_duty = False
    db_session.flush()
    alert = red(db_session, w)
    services.escalation_scan(db_session, minutes(120))
    assert {w["c_duty"].id, w["c_off"].id} <= inbox_users(db_session, alert)


def test_a_yellow_ladder_reminds_without_reaching_the_district(db_session, school_world):
    w = school_world
    alert = services.raise_alert(
        db_session, kind="first_response_overdue", school_id=w["school"].id,
        student_id=w["student"].id, source_id=uuid.uuid4(), tier=1, now=T0,
    )  # fmt: skip
    assert alert.due_at == T0 + dt.timedelta(days=7)
    assert services.escalation_scan(db_session, T0 + dt.timedelta(days=7)) == 1
    assert services.escalation_scan(db_session, T0 + dt.timedelta(days=8)) == 1
    assert [s.step for s in steps_of(db_session, alert)] == ["raise", "escalate", "remind"]
    assert not {w["c_duty"].id, w["c_off"].id} & inbox_users(db_session, alert)


def test_empty_rungs_are_recorded_and_passed(db_session, env):
    school = make_school(db_session)
    student = make_student(db_session, school)
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=school)
    alert = services.raise_alert(
        db_session, kind="urgent_concern", school_id=school.id, student_id=student.id, now=T0
    )
    steps = steps_of(db_session, alert)
    assert [(s.role, s.recipient_count) for s in steps] == [
        ("psych_teacher", 0),
        ("school_leader", 1),
    ]
    assert inbox_users(db_session, alert) == {leader.id}
    assert alert.rung == 1


def test_transitions_are_refused_when_illegal(db_session, school_world, audit_entries):
    w = school_world
    alert = red(db_session, w)
    psych = principal(db_session, w["psych"])
    with pytest.raises(services.IllegalTransition):
        services.resolve(db_session, psych, alert.id, "done")  # acknowledging comes first
    services.acknowledge(db_session, psych, alert.id, now=minutes(3))
    with pytest.raises(services.IllegalTransition):
        services.acknowledge(db_session, principal(db_session, w["leader"]), alert.id)
    with pytest.raises(services.AlertError):
        services.resolve(db_session, psych, alert.id, "   ")
    services.resolve(
        db_session, psych, alert.id, "Assessed on site; guardian informed.", now=minutes(90)
    )
    assert alert.state == "resolved" and alert.resolved_by_id == w["psych"].id
    assert alert.resolution_note == "Assessed on site; guardian informed."
    assert b"guardian" not in bytes(alert.resolution_note_ct)
    with pytest.raises(services.IllegalTransition):
        services.resolve(db_session, psych, alert.id, "again")
    with pytest.raises(services.IllegalTransition):
        services.acknowledge(db_session, psych, alert.id)
    resolved = audit_entries(AuditAction.ALERT_RESOLVE)
    assert len(resolved) == 1 and resolved[0].fields == ["resolution_note"]
    assert "guardian" not in str(resolved[0].detail)


def test_who_may_acknowledge(db_session, school_world):
    w = school_world
    alert = red(db_session, w)
    # In scope without being notified yet: the school leader; district counsellors only once
    # the student is involved with the district (or the alert escalated to it).
    assert services.may_handle(db_session, principal(db_session, w["leader"]), alert)
    assert not services.may_handle(db_session, principal(db_session, w["c_off"]), alert)
    w["student"].district_involved = True
    db_session.flush()
    assert services.may_handle(db_session, principal(db_session, w["c_off"]), alert)
    for key in ("teacher", "supervisor", "other_psych"):
        with pytest.raises(Forbidden):
            services.acknowledge(db_session, principal(db_session, w[key]), alert.id)
    assert alert.state == "open"
    services.acknowledge(db_session, principal(db_session, w["leader"]), alert.id, now=minutes(1))
    assert alert.acknowledged_by_id == w["leader"].id


def test_tier_change_to_red_raises_an_alert(db_session, school_world):
    w = school_world
    decision = type("Decision", (), {"id": uuid.uuid4()})()
    TIER_CHANGED.emit(db_session, TierChanged.of(w["student"], 1, 3, decision.id))
    alert = db_session.scalars(select(Alert).where(Alert.source_id == decision.id)).one()
    assert alert.kind == "red_tier" and alert.tier == 3 and alert.student_id == w["student"].id
    TIER_CHANGED.emit(db_session, TierChanged.of(w["student"], 3, 2, uuid.uuid4()))
    TIER_CHANGED.emit(db_session, TierChanged.of(w["student"], 0, 2, uuid.uuid4()))
    assert db_session.scalars(select(Alert).where(Alert.student_id == w["student"].id)).all() == [
        alert
    ]


def test_one_crisis_arriving_by_two_paths_is_one_alert_until_acknowledged(db_session, school_world):
    w = school_world
    decision = type("Decision", (), {"id": uuid.uuid4()})()
    TIER_CHANGED.emit(db_session, TierChanged.of(w["student"], 1, 3, decision.id))  # concern → red
    concern_alert = services.raise_alert(
        db_session, kind="urgent_concern", school_id=w["school"].id, student_id=w["student"].id,
        source_id=uuid.uuid4(), tier=3,
    )  # fmt: skip
    assert concern_alert.kind == "red_tier" and concern_alert.source_id == decision.id
    services.acknowledge(db_session, principal(db_session, w["psych"]), concern_alert.id)
    later = services.raise_alert(
        db_session, kind="critical_item", school_id=w["school"].id, student_id=w["student"].id,
        source_id=uuid.uuid4(), tier=3,
    )  # fmt: skip
    assert later.id != concern_alert.id and later.kind == "critical_item"


def test_critical_response_raises_a_critical_item_alert(db_session, school_world):
    w = school_world
    response_id = uuid.uuid4()
    critical = CriticalResponse(w["student"].id, w["student"].school_id, response_id, "phq9")
    CRITICAL_RESPONSE.emit(db_session, critical)
    CRITICAL_RESPONSE.emit(db_session, critical)
    alerts = db_session.scalars(select(Alert).where(Alert.source_id == response_id)).all()
    assert len(alerts) == 1 and alerts[0].kind == "critical_item" and alerts[0].tier == 3


def test_break_glass_goes_to_the_other_supervisors_only(db_session, school_world):
    from wellbeing.audit.models import BreakGlass

    w = school_world
    grant = BreakGlass(
        user_id=w["supervisor"].id,
        student_id=w["student"].id,
        expires_at=minutes(60),
        reason="Reviewing a complaint",
    )
    db_session.add(grant)
    db_session.flush()
    BREAK_GLASS_STARTED.emit(db_session, BreakGlassStarted.of(grant))
    alert = db_session.scalars(select(Alert).where(Alert.source_id == grant.id)).one()
    assert alert.kind == "break_glass"
    assert inbox_users(db_session, alert) == {w["supervisor2"].id}
    mail = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.user_id == w["supervisor2"].id)
    ).one()
    assert (
        "王小明" not in mail.body
        and "complaint" not in mail.body
        and f"/alerts/{alert.id}" in mail.body
    )
    # School staff do not handle a break-glass alert, and see no name on it.
    assert not services.may_handle(db_session, principal(db_session, w["psych"]), alert)
    assert (
        services.visible_student_names(db_session, principal(db_session, w["supervisor2"]), [alert])
        == {}
    )
    services.acknowledge(db_session, principal(db_session, w["supervisor2"]), alert.id)
    assert alert.state == "acknowledged"


def test_student_names_only_for_case_access(db_session, school_world):
    w = school_world
    alert = red(db_session, w)
    assert services.visible_student_names(
        db_session, principal(db_session, w["psych"]), [alert]
    ) == {alert.id: "王小明"}
    assert (
        services.visible_student_names(db_session, principal(db_session, w["c_duty"]), [alert])
        == {}
    )
    w["student"].district_involved = True
    assert services.visible_student_names(
        db_session, principal(db_session, w["c_duty"]), [alert]
    ) == {alert.id: "王小明"}


def test_policy_ladder_is_read_from_the_district_policy(db_session, school_world):
    from wellbeing.risk.policy import current_policy

    w = school_world
    alert = red(db_session, w)
    ladder = services.ladder_for(db_session, alert)
    policy = current_policy(db_session, alert.district_id)
    assert ladder.response_minutes == policy.first_response_hours[3] * 60
    assert ladder.rungs[0] == ("psych_teacher", 0)
    assert ladder.rungs[1:] == tuple((s.role, s.after_minutes) for s in policy.escalation_ladder[3])
    orange = services.raise_alert(
        db_session,
        kind="followup_overdue",
        school_id=w["school"].id,
        student_id=w["student"].id,
        tier=2,
        now=T0,
    )
    assert orange.due_at == T0 + dt.timedelta(
        hours=72
    ) and orange.next_step_at == T0 + dt.timedelta(hours=24)


def test_email_is_written_in_the_recipients_locale(db_session, school_world, app):
    w = school_world
    alert = red(db_session, w)
    for user in (w["psych"], w["leader"]):
        subject, body = services.email_text(alert, "psych_teacher", user.locale)
        assert body.endswith(f"/alerts/{alert.id}") and "\n" not in subject
