"""The school's referral pages: start a referral from the record, the preview of exactly what
the partner will see, submit with consent (the confirmation names who was told), an emergency
override for a red-tier student, the red-tier direct send, withdrawal, and the record's
section; feedback raises the psychology teacher's plan-update task."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.plans import services as plans
from wellbeing.plans.models import PlanTask
from wellbeing.referrals.models import Referral, ReferralState

from ..conftest import login
from ..factories import make_user
from ..plans.conftest import complete_body
from .helpers import PATHS, do, draft, give_consent, make_world, walk_to

S = ReferralState


def _form(**extra):  # type: ignore[no-untyped-def]
    return {"reason": "持续情绪低落，需要专科评估。", "internal_reason": "班主任反映",
            "urgency": "urgent", "guardian": "mother", **extra}  # fmt: skip


def _referral(db_session, world):  # type: ignore[no-untyped-def]
    return db_session.scalars(select(Referral).where(Referral.student_id == world.student.id)).one()


def test_start_preview_and_submit_with_consent(client, db_session, env, audit_entries):
    world = make_world(db_session, env.settings, tier=2)
    login(client, world.users["sender"])
    record = client.get(f"/students/{world.student.id}").get_data(as_text=True)
    assert f"/students/{world.student.id}/referrals/new" in record
    page = client.get(f"/students/{world.student.id}/referrals/new")
    assert page.status_code == 200 and 'data-testid="referral-form"' in page.get_data(as_text=True)
    response = client.post(f"/students/{world.student.id}/referrals/new", data=_form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/preview")
    referral = _referral(db_session, world)
    assert referral.state == S.DRAFT
    html = client.get(f"/referrals/{referral.id}/preview").get_data(as_text=True)
    # the preview: the minimum dataset, never the internal note
    assert "持续情绪低落" in html and "13800000000" in html and "班主任反映" not in html
    assert 'data-testid="consent-basis"' in html and 'data-testid="submit-form"' in html
    assert 'data-testid="consent-log"' in html and "Consent given" in html
    assert any(e.detail.get("view") == "preview" for e in audit_entries(AuditAction.REFERRAL_VIEW))
    response = client.post(f"/referrals/{referral.id}/submit", data={"partner_id": ""})
    assert response.status_code == 302
    db_session.refresh(referral)
    assert referral.state == S.SUBMITTED and referral.consent_contact_id is not None
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    centre_name = world.users["centre"].display_name
    assert "Submitted to the district centre" in page and centre_name in page
    record = client.get(f"/students/{world.student.id}").get_data(as_text=True)
    assert 'data-testid="record-referrals"' in record and f"/referrals/{referral.id}" in record


def test_no_consent_is_refused_and_a_red_override_tells_the_leaders(client, db_session, env):
    world = make_world(db_session, env.settings, tier=3, consent=False)
    login(client, world.users["sender"])
    referral = draft(db_session, world)
    client.post(f"/referrals/{referral.id}/submit", data={"partner_id": ""})
    db_session.refresh(referral)
    assert referral.state == S.DRAFT
    assert "consent" in client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    client.post(f"/referrals/{referral.id}/submit",
                data={"partner_id": "", "override_reason": "学生正处危机，监护人联系不上"})  # fmt: skip
    db_session.refresh(referral)
    assert referral.state == S.SUBMITTED and referral.override_at is not None
    assert referral.consent_contact_id is None
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "emergency override" in html and world.users["leader"].display_name in html


def test_red_tier_direct_send_tells_the_centre(client, db_session, env):
    world = make_world(db_session, env.settings, tier=3)
    login(client, world.users["sender"])
    referral = draft(db_session, world)
    html = client.get(f"/referrals/{referral.id}/preview").get_data(as_text=True)
    assert world.partner_a.name in html
    client.post(f"/referrals/{referral.id}/submit", data={"partner_id": str(world.partner_a.id)})
    db_session.refresh(referral)
    assert (
        referral.state == S.SENT and referral.direct and referral.partner_id == world.partner_a.id
    )
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "the district centre was told at once" in html
    assert world.users["centre"].display_name in html


def test_a_student_below_red_sees_no_direct_send(client, db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    login(client, world.users["sender"])
    referral = draft(db_session, world)
    html = client.get(f"/referrals/{referral.id}/preview").get_data(as_text=True)
    assert world.partner_a.name not in html
    client.post(f"/referrals/{referral.id}/submit", data={"partner_id": str(world.partner_a.id)})
    db_session.refresh(referral)
    assert referral.state == S.DRAFT  # not a choice of the form: refused


def test_edit_a_returned_referral_and_withdraw(client, db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    referral = walk_to(db_session, world, S.RETURNED)
    login(client, world.users["sender"])
    assert client.get(f"/referrals/{referral.id}/edit").status_code == 200
    client.post(f"/referrals/{referral.id}/edit", data=_form(reason="补充了监护人意见。"))
    db_session.refresh(referral)
    assert referral.reason == "补充了监护人意见。"
    client.post(f"/referrals/{referral.id}/withdraw", data={"reason": "家长自行就医"})
    db_session.refresh(referral)
    assert referral.state == S.WITHDRAWN


def test_feedback_raises_the_plan_update_task_and_shows_to_the_sender(client, db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    referral = walk_to(db_session, world, S.FEEDBACK)
    tasks = db_session.scalars(
        select(PlanTask).where(PlanTask.student_id == world.student.id,
                               PlanTask.kind == "update_plan")
    ).all()  # fmt: skip
    assert len(tasks) == 1 and tasks[0].assignee_id == world.users["sender"].id
    login(client, world.users["sender"])
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "诊断为中度抑郁发作" in html and 'data-testid="referral-feedback"' in html
    login(client, world.users["leader"])
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "诊断为中度抑郁发作" not in html and 'data-testid="referral-feedback-summary"' in html


def test_consent_must_be_recent(client, db_session, env):
    world = make_world(db_session, env.settings, tier=2, consent=False)
    give_consent(db_session, world, at=utcnow() - dt.timedelta(days=400))
    referral = draft(db_session, world)
    login(client, world.users["sender"])
    html = client.get(f"/referrals/{referral.id}/preview").get_data(as_text=True)
    assert "Not recorded" in html
    give_consent(db_session, world, decision="refused")  # one guardian's refusal shows too
    html = client.get(f"/referrals/{referral.id}/preview").get_data(as_text=True)
    assert "Consent refused" in html and "Not recorded" in html
    assert PATHS and do  # the helpers stay the one way to walk a referral


def test_return_to_school_advice_proposes_a_plan_review(db_session, env):
    """Feedback advising a return to school (复学) gives the plan in effect a review task; the
    update task goes to the sender either way."""
    world = make_world(db_session, env.settings, tier=2)
    sender = world.people["sender"]
    plan = plans.start_plan(db_session, sender, world.student.id)
    plans.save_draft(db_session, sender, plan.id, complete_body())
    plans.save_version(db_session, sender, plan.id)
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=world.school)
    plans.sign(db_session, build_principal(db_session, leader), plan.id, 1)
    db_session.refresh(plan)
    assert plan.state == "active"
    walk_to(db_session, world, S.FEEDBACK)  # the helper's feedback advises a return
    kinds = {
        (t.kind, t.plan_id, t.assignee_id)
        for t in db_session.scalars(select(PlanTask).where(PlanTask.student_id == world.student.id))
    }
    assert ("update_plan", plan.id, world.users["sender"].id) in kinds
    assert ("review_plan", plan.id, world.users["sender"].id) in kinds
