"""Crisis response: opened by a red tier, the checklist, closing, guardian contacts, who sees it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.crisis import services
from wellbeing.crisis.models import STEPS, Crisis, GuardianContact
from wellbeing.db import utcnow
from wellbeing.followups.models import FollowUp
from wellbeing.risk.services import apply_tier

from ..conftest import login
from ..factories import make_school, make_student, staff_set


@pytest.fixture
def crisis_world(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    student = make_student(db_session, school, name="陈晓")
    principals = {role: build_principal(db_session, u) for role, u in users.items()}
    return {"school": school, "users": users, "p": principals, "student": student}


def _red(db_session, student):  # type: ignore[no-untyped-def]
    apply_tier(
        db_session, None, student, 3, source="screening", reason="phq9.item9", provisional=True
    )
    return db_session.scalar(
        select(Crisis).where(Crisis.student_id == student.id, Crisis.state == "open")
    )


GUARDIAN = {
    "relation": "mother", "channel": "phone", "summary": "告知母亲，今晚陪伴孩子",
}  # fmt: skip


def _work_all_steps(db_session, principal, crisis, now=None):  # type: ignore[no-untyped-def]
    now = now or utcnow()
    for step in STEPS:
        kwargs = {}
        if step == "guardian_notified":
            kwargs["guardian"] = {**GUARDIAN, "contacted_at": now - dt.timedelta(minutes=5)}
        if step == "referral":
            kwargs["outcome"] = "made"
        if step == "followup_scheduled":
            kwargs["followup_due"] = now + dt.timedelta(days=1)
        services.complete_step(db_session, principal, crisis, step, now=now, **kwargs)


def test_red_tier_opens_one_crisis(db_session, crisis_world, audit_entries):
    w = crisis_world
    crisis = _red(db_session, w["student"])
    assert crisis is not None and crisis.school_id == w["school"].id
    # still red (or red again while open): no second crisis
    assert services.open_crisis(db_session, w["student"]) is None
    apply_tier(db_session, None, make_student(db_session, w["school"]), 2, source="screening")
    assert db_session.scalar(select(func.count()).select_from(Crisis)) == 1
    assert audit_entries(AuditAction.CRISIS_UPDATE)[0].detail == {"step": "open"}


def test_checklist_needs_acknowledge_first_and_each_step_once(db_session, crisis_world):
    w = crisis_world
    crisis = _red(db_session, w["student"])
    psych = w["p"]["psych_teacher"]
    with pytest.raises(services.CrisisError):
        services.complete_step(db_session, psych, crisis, "assessment")
    services.complete_step(db_session, w["p"]["school_leader"], crisis, "acknowledge")
    with pytest.raises(services.CrisisError):
        services.complete_step(db_session, psych, crisis, "acknowledge")
    with pytest.raises(services.CrisisError):
        services.complete_step(db_session, psych, crisis, "referral")  # needs an outcome
    with pytest.raises(services.CrisisError):
        services.complete_step(db_session, psych, crisis, "guardian_notified")  # needs the contact
    with pytest.raises(services.CrisisError):
        services.complete_step(db_session, psych, crisis, "no_such_step")
    step = services.complete_step(db_session, psych, crisis, "referral", outcome="considered")
    assert step.done_by_id == w["users"]["psych_teacher"].id and step.outcome == "considered"


def test_close_needs_every_mandatory_step(db_session, crisis_world, audit_entries):
    w = crisis_world
    crisis = _red(db_session, w["student"])
    psych = w["p"]["psych_teacher"]
    closing = {"summary": "已稳定，家长陪伴", "tier": 3, "confirmed": True}
    with pytest.raises(services.CrisisError):
        services.close_crisis(db_session, psych, crisis, **closing)
    _work_all_steps(db_session, psych, crisis)
    apply_tier(db_session, psych, w["student"], 3, source="manual", reason="assessed: red")
    services.close_crisis(db_session, psych, crisis, **closing)
    assert crisis.state == "closed" and crisis.closed_by_id == w["users"]["psych_teacher"].id
    with pytest.raises(services.CrisisError):
        services.complete_step(db_session, psych, crisis, "safety_plan")
    steps = [e.detail["step"] for e in audit_entries(AuditAction.CRISIS_UPDATE)]
    assert steps == ["open", *STEPS, "close"]
    assert crisis.closed_tier == 3 and crisis.closing_summary == closing["summary"]
    followup = db_session.scalar(select(FollowUp).where(FollowUp.source_id == crisis.id))
    assert followup is not None and followup.student_id == w["student"].id
    contact = db_session.scalar(
        select(GuardianContact).where(GuardianContact.crisis_id == crisis.id)
    )
    assert contact.relation == "mother" and contact.summary == GUARDIAN["summary"]
    raw = db_session.execute(
        text("SELECT summary_ct FROM guardian_contact WHERE id = :id"),
        {"id": contact.id.hex if db_session.get_bind().dialect.name == "sqlite" else contact.id},
    ).scalar_one()
    assert "母亲".encode() not in bytes(raw)
    # a closed crisis lets a new one open if the student becomes red again later
    assert services.open_crisis(db_session, w["student"]) is not None


def test_school_leader_cannot_schedule_the_followup(db_session, crisis_world):
    """Issue 12: "follow-up arranged" is never ticked without a follow-up of its own; a school
    leader (who cannot schedule follow-ups) is told who can, and nothing is recorded."""
    w = crisis_world
    crisis = _red(db_session, w["student"])
    leader = w["p"]["school_leader"]
    services.complete_step(db_session, leader, crisis, "acknowledge")
    for due in (utcnow() + dt.timedelta(days=1), None):
        with pytest.raises(services.CrisisError):
            services.complete_step(
                db_session, leader, crisis, "followup_scheduled", followup_due=due
            )
    assert "followup_scheduled" not in services.steps_of(db_session, crisis)


def test_who_sees_open_crises(db_session, crisis_world):
    w = crisis_world
    crisis = _red(db_session, w["student"])
    leader_rows = services.open_crises(db_session, w["p"]["school_leader"])
    assert [(r.crisis.id, r.show_name) for r in leader_rows] == [(crisis.id, True)]
    counsellor_rows = services.open_crises(db_session, w["p"]["counsellor"])
    assert [r.crisis.id for r in counsellor_rows] == [crisis.id]
    assert counsellor_rows[0].show_name is w["student"].district_involved
    with pytest.raises(Forbidden):
        services.open_crises(db_session, w["p"]["class_teacher"])
    with pytest.raises(Forbidden):
        services.get_crisis(db_session, w["p"]["class_teacher"], crisis.id)


def test_other_school_psych_teacher_sees_nothing(db_session, env, crisis_world):
    w = crisis_world
    crisis = _red(db_session, w["student"])
    other_users = staff_set(db_session, env.settings, make_school(db_session))
    outsider = build_principal(db_session, other_users["psych_teacher"])
    assert services.open_crises(db_session, outsider) == []
    with pytest.raises(Forbidden):
        services.get_crisis(db_session, outsider, crisis.id)
    with pytest.raises(Forbidden):
        services.complete_step(db_session, outsider, crisis, "acknowledge")


def test_checklist_pages(client, db_session, crisis_world, audit_entries):
    w = crisis_world
    crisis = _red(db_session, w["student"])
    login(client, w["users"]["school_leader"])
    listing = client.get("/crisis").get_data(as_text=True)
    assert f"crisis-{crisis.id}" in listing and "陈晓" in listing
    assert audit_entries(AuditAction.CRISIS_VIEW)[-1].detail["students"] == [str(w["student"].id)]
    assert client.post(f"/crisis/{crisis.id}/steps/acknowledge", data={}).status_code == 302
    page = client.get(f"/crisis/{crisis.id}").get_data(as_text=True)
    assert 'id="step-form-assessment"' in page and 'id="step-form-acknowledge"' not in page
    response = client.post(
        f"/crisis/{crisis.id}/steps/guardian_notified",
        data={
            "relation": "father",
            "channel": "in_person",
            "contacted_at": "2026-03-02T10:30",
            "summary": "父亲已到校",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/crisis/{crisis.id}").get_data(as_text=True)
    assert "父亲已到校" in page
    refused = client.post(f"/crisis/{crisis.id}/close", data={})
    assert refused.status_code == 200  # the page again, saying why
    assert "Closing needs every step above" in refused.get_data(as_text=True)
    assert "Write the closing summary." in refused.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Crisis, crisis.id).state == "open"  # steps are missing


def test_guardian_contact_outside_a_crisis(client, db_session, crisis_world, audit_entries):
    w = crisis_world
    login(client, w["users"]["psych_teacher"])
    url = f"/crisis/students/{w['student'].id}/guardian-contacts"
    response = client.post(
        url,
        data={
            "relation": "grandparent",
            "channel": "phone",
            "contacted_at": "2026-03-01T09:00",
            "summary": "奶奶说孩子睡得少",
        },
    )
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "奶奶说孩子睡得少" in page
    (entry,) = audit_entries(AuditAction.GUARDIAN_CONTACT)
    assert entry.detail == {"relation": "grandparent", "channel": "phone", "in_crisis": False}
    assert audit_entries(AuditAction.GUARDIAN_CONTACT_VIEW)[-1].student_id == w["student"].id
    login(client, w["users"]["class_teacher"])
    assert client.get(url).status_code == 403


def test_guardian_contact_cannot_be_in_the_future(db_session, crisis_world):
    w = crisis_world
    with pytest.raises(services.CrisisError):
        services.record_guardian_contact(
            db_session, w["p"]["psych_teacher"], w["student"], relation="mother", channel="phone",
            contacted_at=utcnow() + dt.timedelta(hours=2), summary="x",
        )  # fmt: skip
