"""Break-glass end to end: reason + re-authentication, time-boxed access, every entry tagged,
supervisors alerted, expiry with a controlled clock, review with a comment."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from wellbeing.audit import services
from wellbeing.audit.events import BREAK_GLASS_STARTED
from wellbeing.audit.models import BreakGlass
from wellbeing.auth.models import User
from wellbeing.breakglass import services as breakglass
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role

from ..authz import build_world
from ..conftest import login
from ..factories import PASSWORD, make_user

REASON = "Hotline call: student reported in crisis, school unreachable"
T0 = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    return build_world(db_session, env.settings)


@pytest.fixture
def started_events():  # type: ignore[no-untyped-def]
    seen: list[object] = []

    def handler(session, grant):  # type: ignore[no-untyped-def]
        seen.append(grant.grant_id)

    BREAK_GLASS_STARTED.subscribe(handler)
    yield seen
    BREAK_GLASS_STARTED.unsubscribe(handler)


def _start(client, student, password=PASSWORD, **extra):  # type: ignore[no-untyped-def]
    return client.post(
        f"/break-glass/{student.id}", data={"reason": REASON, "password": password, **extra}
    )


def test_counsellor_break_glass_end_to_end(
    client, world, db_session, audit_entries, started_events
):
    counsellor = world.users["counsellor"]
    student = world.own_student  # never escalated: outside the counsellor's scope
    with time_machine.travel(T0, tick=False) as clock:
        login(client, counsellor)
        assert client.get(f"/students/{student.id}").status_code == 403

        form = client.get(f"/break-glass/{student.id}")
        assert form.status_code == 200 and "password" in form.get_data(as_text=True)

        wrong = _start(client, student, password="not-my-password-1")
        assert wrong.status_code == 200
        assert db_session.scalars(select(BreakGlass)).all() == []
        failed = audit_entries(AuditAction.REAUTH_FAILED)
        assert failed[-1].student_id == student.id and failed[-1].outcome == "denied"

        response = _start(client, student)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/students/{student.id}")
        grant = db_session.scalars(select(BreakGlass)).one()
        assert grant.user_id == counsellor.id and grant.student_id == student.id
        assert grant.expires_at == T0 + dt.timedelta(minutes=60)
        assert grant.reason == REASON
        assert REASON.encode() not in bytes(grant.reason_ct)  # stored encrypted
        start = audit_entries(AuditAction.BREAK_GLASS_START)[-1]
        assert start.break_glass_id == grant.id and start.student_id == student.id
        assert started_events == [grant.id]  # the alerts module turns this into an alert

        # The record opens, and the read is tagged with the grant.
        page = client.get(f"/students/{student.id}")
        assert page.status_code == 200
        view = audit_entries(AuditAction.STUDENT_VIEW)[-1]
        assert view.break_glass_id == grant.id and view.actor_user_id == counsellor.id
        # Only this student: another out-of-scope student stays closed.
        assert client.get(f"/students/{world.other_student.id}").status_code == 403

        # 61 minutes later the grant has expired.
        clock.shift(dt.timedelta(minutes=61))
        login(client, counsellor)  # a fresh session (the old one idled out)
        assert client.get(f"/students/{student.id}").status_code == 403
        denied = audit_entries(AuditAction.ACCESS_DENIED)[-1]
        assert denied.student_id == student.id and denied.break_glass_id is None
        assert services.grant_status(grant) == "expired"

        # The scheduler records the end: once, at the expiry time, tagged with the grant.
        now = T0 + dt.timedelta(minutes=61)
        assert services.close_expired_grants(db_session, now) == 1
        assert services.close_expired_grants(db_session, now) == 0
        db_session.flush()
        assert grant.ended_at == grant.expires_at
        assert services.grant_status(grant) == "expired"
        end = audit_entries(AuditAction.BREAK_GLASS_END)
        assert len(end) == 1 and end[0].break_glass_id == grant.id
        assert end[0].detail == {"by": "expiry"} and end[0].actor_role == "system"
        assert end[0].student_id == student.id

    # The supervisor reviews it.
    supervisor = world.users["supervisor"]
    login(client, supervisor)
    queue = client.get("/audit/break-glass")
    assert queue.status_code == 200 and str(grant.id) in queue.get_data(as_text=True)
    detail = client.get(f"/audit/break-glass/{grant.id}")
    body = detail.get_data(as_text=True)
    assert detail.status_code == 200 and REASON in body
    assert student.name not in body  # metadata and the reason, never the record
    reviewed = client.post(
        f"/audit/break-glass/{grant.id}", data={"comment": "Justified: hotline escalation."}
    )
    assert reviewed.status_code == 302
    db_session.refresh(grant)
    assert grant.reviewed_by_id == supervisor.id and grant.review_comment.startswith("Justified")
    review = audit_entries(AuditAction.BREAK_GLASS_REVIEW)[-1]
    assert review.object_id == str(grant.id) and review.student_id == student.id
    assert str(grant.id) not in client.get("/audit/break-glass").get_data(as_text=True)
    assert str(grant.id) in client.get("/audit/break-glass?reviewed=1").get_data(as_text=True)
    again = client.post(f"/audit/break-glass/{grant.id}", data={"comment": "Second review"})
    assert again.status_code == 409


def test_ending_early_closes_access(client, world, db_session, audit_entries):
    counsellor = world.users["counsellor"]
    student = world.other_student
    login(client, counsellor)
    assert _start(client, student).status_code == 302
    grant = db_session.scalars(select(BreakGlass)).one()
    assert client.get(f"/students/{student.id}").status_code == 200
    assert str(grant.id) in client.get("/break-glass").get_data(as_text=True)
    assert client.post(f"/break-glass/{grant.id}/end").status_code == 302
    db_session.refresh(grant)
    assert grant.ended_at is not None and services.grant_status(grant) == "ended"
    assert audit_entries(AuditAction.BREAK_GLASS_END)[-1].break_glass_id == grant.id
    assert client.get(f"/students/{student.id}").status_code == 403
    # Ending twice changes nothing and records nothing more.
    client.post(f"/break-glass/{grant.id}/end")
    assert len(audit_entries(AuditAction.BREAK_GLASS_END)) == 1
    # A grant ended by hand is not "ended" again by the expiry job.
    later = grant.expires_at + dt.timedelta(hours=1)
    assert services.close_expired_grants(db_session, later) == 0
    assert services.grant_status(grant, later) == "ended"


def test_only_the_holder_or_a_supervisor_ends_a_grant(client, world, db_session):
    login(client, world.users["counsellor"])
    _start(client, world.other_student)
    grant = db_session.scalars(select(BreakGlass)).one()
    login(client, world.users["psych_teacher"])
    assert client.post(f"/break-glass/{grant.id}/end").status_code == 403
    login(client, world.users["supervisor"])
    assert client.post(f"/break-glass/{grant.id}/end").status_code == 302


def test_psych_teacher_only_for_another_school(client, world, db_session):
    login(client, world.users["psych_teacher"])
    own = client.get(f"/break-glass/{world.own_student.id}")
    assert own.status_code == 302 and own.headers["Location"].endswith(
        f"/students/{world.own_student.id}"
    )
    assert _start(client, world.other_student).status_code == 302
    assert client.get(f"/students/{world.other_student.id}").status_code == 200


@pytest.mark.parametrize("role", ["class_teacher", "school_leader", "admin", "partner"])
def test_other_roles_may_not_break_glass(client, world, role, audit_entries):
    login(client, world.users[role])
    assert client.get(f"/break-glass/{world.other_student.id}").status_code == 403
    assert _start(client, world.other_student).status_code == 403


def test_supervisor_can_break_glass_but_not_review_their_own(client, world, db_session, env):
    from wellbeing.risk.policy import default_body
    from wellbeing.risk.services import save_policy

    body = default_body()
    body["break_glass"] = {"supervisors": True}  # off by default: the district allows it here
    save_policy(db_session, None, world.own_school.district_id, body)
    supervisor = world.users["supervisor"]
    login(client, supervisor)
    assert _start(client, world.own_student).status_code == 302
    assert client.get(f"/students/{world.own_student.id}").status_code == 200
    grant = db_session.scalars(select(BreakGlass)).one()
    own_review = client.post(f"/audit/break-glass/{grant.id}", data={"comment": "Looks fine to me"})
    assert own_review.status_code == 409
    other = make_user(db_session, env.settings, Role.SUPERVISOR)
    login(client, other)
    assert (
        client.post(f"/audit/break-glass/{grant.id}", data={"comment": "Checked"}).status_code
        == 302
    )


def test_totp_is_required_when_enabled(client, world, db_session):
    counsellor = db_session.get(User, world.users["counsellor"].id)
    secret = pyotp.random_base32()
    counsellor.totp_secret = secret
    counsellor.totp_enabled = True
    db_session.flush()
    login(client, counsellor)
    assert "code" in client.get(f"/break-glass/{world.other_student.id}").get_data(as_text=True)
    assert _start(client, world.other_student, code="000000").status_code == 200
    assert db_session.scalars(select(BreakGlass)).all() == []
    ok = _start(client, world.other_student, code=pyotp.TOTP(secret).now())
    assert ok.status_code == 302
    assert db_session.scalars(select(BreakGlass)).one().user_id == counsellor.id


def test_a_short_reason_is_refused(client, world, db_session):
    login(client, world.users["counsellor"])
    response = client.post(
        f"/break-glass/{world.other_student.id}", data={"reason": "need it", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert db_session.scalars(select(BreakGlass)).all() == []


def test_configured_duration(db_session, env, world):
    from wellbeing.auth.services import build_principal

    settings = env.settings.with_overrides(break_glass_minutes=5)
    user = world.users["counsellor"]
    with time_machine.travel(T0, tick=False) as clock:
        principal = build_principal(db_session, user)
        grant = breakglass.start_break_glass(
            db_session,
            principal,
            user,
            settings,
            world.other_student,
            reason=REASON,
            password=PASSWORD,
        )
        assert grant.expires_at - grant.started_at == dt.timedelta(minutes=5)
        assert world.other_student.id in build_principal(db_session, user).break_glass_students
        clock.shift(dt.timedelta(minutes=5, seconds=1))
        assert world.other_student.id not in build_principal(db_session, user).break_glass_students
