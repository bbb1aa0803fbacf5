"""Issue 12 item 5: checklist steps that record a fact start empty and require their data;
"follow-up arranged" creates its follow-up; closing needs a summary, a confirmed tier and a
confirmation; a closed crisis stays in the record; an approved step-down from red says what
happens to the open crisis."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, text

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Forbidden
from wellbeing.crisis import services
from wellbeing.crisis.models import STEPS, Crisis, CrisisStep, GuardianContact
from wellbeing.db import utcnow
from wellbeing.followups.models import FollowUp
from wellbeing.risk.models import PENDING, TierDecision
from wellbeing.risk.services import apply_tier
from wellbeing.students.models import Student

from ..conftest import login
from ..factories import make_school, make_student, staff_set


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    for user in users.values():
        user.locale = "en"  # the assertions read English messages
    student = make_student(db_session, school, name="陈晓")
    apply_tier(db_session, None, student, 3, source="screening", reason="phq9_item9_red",
               provisional=True)  # fmt: skip
    crisis = db_session.scalar(select(Crisis).where(Crisis.student_id == student.id))
    principals = {role: build_principal(db_session, u) for role, u in users.items()}
    return {"users": users, "p": principals, "student": student, "crisis": crisis}


def _flashes(client) -> str:  # type: ignore[no-untyped-def]
    """The flashed messages so far (taken: the next call sees only newer ones)."""
    with client.session_transaction() as sess:
        return " ".join(message for _cat, message in sess.pop("_flashes", []))


def _selects(html: str, form_id: str) -> dict[str, str]:
    """name -> the <select> element's HTML, inside the form ``form_id``."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S)
    assert form is not None, form_id
    return {
        m.group(1): m.group(0)
        for m in re.finditer(r'<select[^>]*name="([a-z_]+)".*?</select>', form.group(0), re.S)
    }


def _starts_empty_and_required(select_html: str) -> bool:
    first = re.search(r"<option[^>]*>", select_html)
    return (
        first is not None
        and 'value=""' in first.group(0)
        and "selected" not in select_html.replace(first.group(0), "")
        and re.search(r"<select[^>]*\brequired\b", select_html) is not None
    )


def _all_steps(db_session, principal, crisis, now=None):  # type: ignore[no-untyped-def]
    now = now or utcnow()
    for step in STEPS:
        kwargs: dict[str, object] = {}
        if step == "guardian_notified":
            kwargs["guardian"] = {
                "relation": "father", "channel": "phone", "summary": "父亲已知情",
                "contacted_at": now - dt.timedelta(minutes=5),
            }  # fmt: skip
        if step == "referral":
            kwargs["outcome"] = "made"
        if step == "followup_scheduled":
            kwargs["followup_due"] = now + dt.timedelta(days=1)
        services.complete_step(db_session, principal, crisis, step, now=now, **kwargs)


def test_fact_selects_start_empty_and_are_required(client, db_session, world):
    """Old code: "Which guardian" came pre-set to Mother, "How" to Phone and the referral to
    "considered, not needed": a call to the father was recorded against the mother."""
    crisis, psych = world["crisis"], world["users"]["psych_teacher"]
    services.complete_step(db_session, world["p"]["psych_teacher"], crisis, "acknowledge")
    login(client, psych)
    html = client.get(f"/crisis/{crisis.id}").get_data(as_text=True)
    guardian = _selects(html, "step-form-guardian_notified")
    assert set(guardian) == {"relation", "channel"}
    assert all(_starts_empty_and_required(s) for s in guardian.values()), guardian
    referral = _selects(html, "step-form-referral")
    assert _starts_empty_and_required(referral["outcome"]), referral
    contacts = client.get(f"/crisis/students/{world['student'].id}/guardian-contacts")
    standalone = re.findall(r"<select.*?</select>", contacts.get_data(as_text=True), re.S)
    assert len(standalone) == 2 and all(_starts_empty_and_required(s) for s in standalone)
    # the tier select of the tier page: no pre-chosen tier to "confirm" by accident
    tier_page = client.get(f"/students/{world['student'].id}/tier").get_data(as_text=True)
    tier_select = re.search(r'<select[^>]*name="tier".*?</select>', tier_page, re.S)
    assert tier_select and _starts_empty_and_required(tier_select.group(0))


def test_concern_form_preselects_no_kind_and_no_urgency(client, world):
    login(client, world["users"]["class_teacher"])
    html = client.get("/concerns/new").get_data(as_text=True)
    category = re.search(r'<select[^>]*name="category".*?</select>', html, re.S)
    assert category and _starts_empty_and_required(category.group(0))
    urgency = re.findall(r'<input[^>]*name="urgency"[^>]*>', html)
    assert len(urgency) == 3 and not any("checked" in radio for radio in urgency)


def test_guardian_step_without_a_choice_records_nothing(client, db_session, world):
    crisis = world["crisis"]
    services.complete_step(db_session, world["p"]["psych_teacher"], crisis, "acknowledge")
    login(client, world["users"]["psych_teacher"])
    response = client.post(
        f"/crisis/{crisis.id}/steps/guardian_notified",
        data={"relation": "", "channel": "", "contacted_at": "2026-03-02T10:30",
              "summary": "父亲已到校"},
    )  # fmt: skip
    assert response.status_code == 200  # the page again, with the error
    html = response.get_data(as_text=True)
    assert "Choose which guardian was contacted." in html and "父亲已到校" in html  # kept
    assert db_session.scalar(select(func.count()).select_from(GuardianContact)) == 0
    assert "guardian_notified" not in services.steps_of(db_session, crisis)


def test_followup_step_needs_a_time_and_creates_that_followup(client, db_session, world):
    """Old code: ticking "follow-up arranged" with no time linked whatever the red cadence had
    planned and scheduled nothing."""
    crisis, student = world["crisis"], world["student"]
    psych = world["p"]["psych_teacher"]
    services.complete_step(db_session, psych, crisis, "acknowledge")
    with pytest.raises(services.CrisisError):
        services.complete_step(db_session, psych, crisis, "followup_scheduled")
    login(client, world["users"]["psych_teacher"])
    refused = client.post(f"/crisis/{crisis.id}/steps/followup_scheduled", data={})
    assert "Give the date and time of the follow-up." in refused.get_data(as_text=True)
    assert "followup_scheduled" not in services.steps_of(db_session, crisis)

    due_local = (
        (dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
        .astimezone(client.application.extensions["wellbeing.settings"].tz)
        .replace(hour=9, minute=30, second=0, microsecond=0)
    )
    response = client.post(
        f"/crisis/{crisis.id}/steps/followup_scheduled",
        data={"followup_due": due_local.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 302
    step = db_session.scalar(
        select(CrisisStep).where(CrisisStep.crisis_id == crisis.id,
                                 CrisisStep.step == "followup_scheduled")
    )  # fmt: skip
    followup = db_session.get(FollowUp, step.followup_id)
    assert followup.source_id == crisis.id and followup.student_id == student.id
    assert followup.owner_id == world["users"]["psych_teacher"].id
    assert followup.due_at == due_local
    message = _flashes(client)
    assert "Follow-up scheduled for" in message and due_local.strftime("%H:%M") in message
    assert "follow-up agenda" in message


def test_close_needs_summary_confirmed_tier_and_confirmation(client, db_session, world):
    crisis, student = world["crisis"], world["student"]
    psych = world["p"]["psych_teacher"]
    _all_steps(db_session, psych, crisis)
    good = {"summary": "情绪稳定，家长每日陪伴", "tier": 3, "confirmed": True}
    for bad in ({"summary": "  "}, {"tier": None}, {"tier": 2}, {"confirmed": False}):
        with pytest.raises(services.CrisisError):
            services.close_crisis(db_session, psych, crisis, **{**good, **bad})
    with pytest.raises(services.CrisisError, match="provisional"):
        services.close_crisis(db_session, psych, crisis, **good)  # the rule's red is unconfirmed
    apply_tier(db_session, psych, student, 3, source="manual", reason="assessed: still red")

    login(client, world["users"]["school_leader"])
    html = client.get(f"/crisis/{crisis.id}").get_data(as_text=True)
    assert _starts_empty_and_required(_selects(html, "crisis-close-form")["tier"])
    no_confirm = {"summary": good["summary"], "tier": "3"}
    response = client.post(f"/crisis/{crisis.id}/close", data=no_confirm)
    html = response.get_data(as_text=True)
    assert "Tick the confirmation to close the crisis." in html and good["summary"] in html
    db_session.expire_all()
    assert db_session.get(Crisis, crisis.id).state == "open"
    response = client.post(f"/crisis/{crisis.id}/close", data={**no_confirm, "confirm": "y"})
    assert response.status_code == 302
    assert "Crisis closed with your summary" in _flashes(client)
    db_session.expire_all()
    closed = db_session.get(Crisis, crisis.id)
    assert closed.state == "closed" and closed.closed_tier == 3
    assert closed.closing_summary == good["summary"]
    assert closed.closed_by_id == world["users"]["school_leader"].id
    raw = db_session.execute(
        text("SELECT closing_summary_ct FROM crisis WHERE id = :id"),
        {"id": crisis.id.hex if db_session.get_bind().dialect.name == "sqlite" else crisis.id},
    ).scalar_one()
    assert "家长".encode() not in bytes(raw)


def test_closed_crisis_stays_in_the_record_with_its_history(client, db_session, world):
    crisis, student = world["crisis"], world["student"]
    psych = world["p"]["psych_teacher"]
    _all_steps(db_session, psych, crisis)
    apply_tier(db_session, psych, student, 3, source="manual", reason="assessed")
    services.close_crisis(
        db_session, psych, crisis, summary="已转介医院，稳定", tier=3, confirmed=True
    )
    login(client, world["users"]["psych_teacher"])
    html = client.get(f"/students/{student.id}").get_data(as_text=True)
    block = re.search(rf'id="record-crisis-{crisis.id}".*?</details>', html, re.S)
    assert block is not None, "the closed crisis is not in the record"
    history = block.group(0)
    assert "已转介医院，稳定" in history
    assert history.count("step-done") == len(STEPS)
    assert history.count("psych_teacher user") >= len(STEPS)  # who, for every step


def _request_stepdown(db_session, world):  # type: ignore[no-untyped-def]
    psych = world["p"]["psych_teacher"]
    apply_tier(db_session, psych, world["student"], 3, source="manual", reason="assessed")
    decision = apply_tier(db_session, psych, world["student"], 1, source="manual", reason="稳定")
    assert decision.state == PENDING
    return decision


def test_stepdown_approval_asks_what_happens_to_the_open_crisis(client, db_session, world):
    crisis, student = world["crisis"], world["student"]
    decision = _request_stepdown(db_session, world)
    login(client, world["users"]["school_leader"])
    queue = client.get("/tier/stepdowns").get_data(as_text=True)
    assert 'data-testid="stepdown-crisis"' in queue
    radios = re.findall(r'<input[^>]*name="crisis"[^>]*>', queue)
    assert len(radios) == 2 and not any("checked" in r for r in radios)
    url = f"/tier/stepdowns/{decision.id}/approve"

    client.post(url, data={})  # no choice: nothing happens
    assert "Say what happens to the open crisis" in _flashes(client)
    db_session.expire_all()
    assert db_session.get(Student, student.id).tier == 3
    assert db_session.get(TierDecision, decision.id).state == PENDING
    client.post(url, data={"crisis": "close", "summary": "稳定"})  # checklist not complete
    db_session.expire_all()
    assert db_session.get(TierDecision, decision.id).state == PENDING
    assert db_session.get(Crisis, crisis.id).state == "open"

    client.post(url, data={"crisis": "keep_open"})
    message = _flashes(client)
    db_session.expire_all()
    assert db_session.get(Student, student.id).tier == 1
    assert db_session.get(Crisis, crisis.id).state == "open"
    assert "The crisis stays open" in message and "Step-down approved" in message


def test_stepdown_approval_can_close_the_crisis_with_a_summary(db_session, world):
    from wellbeing.crisis.stepdown import approve_stepdown

    crisis = world["crisis"]
    _all_steps(db_session, world["p"]["psych_teacher"], crisis)
    decision = _request_stepdown(db_session, world)
    leader = world["p"]["school_leader"]
    with pytest.raises(services.CrisisError):
        approve_stepdown(db_session, leader, decision.id, crisis_action="close")
    with pytest.raises(Forbidden):  # a psychology teacher never approves a step-down
        approve_stepdown(
            db_session, world["p"]["psych_teacher"], decision.id, crisis_action="keep_open"
        )
    done = approve_stepdown(
        db_session, leader, decision.id, crisis_action="close", summary="危机解除"
    )
    assert done.closed and crisis.state == "closed"
    assert crisis.closed_tier == 1 and crisis.closing_summary == "危机解除"
    assert crisis.closed_by_id == world["users"]["school_leader"].id


def test_followup_outcome_starts_empty(client, db_session, world):
    """The same class elsewhere: recording a follow-up's outcome came pre-set to "Seen the
    student" (a visit recorded that nobody chose to record)."""
    from wellbeing.followups.services import schedule_followup

    followup = schedule_followup(
        db_session, None, world["student"], due_at=utcnow() + dt.timedelta(hours=3),
        owner_id=world["users"]["psych_teacher"].id, source="manual",
    )  # fmt: skip
    db_session.flush()
    login(client, world["users"]["psych_teacher"])
    html = client.get(f"/followups/{followup.id}/complete").get_data(as_text=True)
    outcome = re.search(r'<select[^>]*name="outcome".*?</select>', html, re.S)
    assert outcome and _starts_empty_and_required(outcome.group(0))
    response = client.post(f"/followups/{followup.id}/complete", data={"note": "见到了"})
    assert response.status_code == 200 and "Choose the outcome." in response.get_data(as_text=True)
    db_session.refresh(followup)
    assert followup.state in ("open", "overdue")


def test_followup_confirmations_say_what_follows(client, db_session, world):
    """Old code: "Follow-up scheduled." / "Follow-up recorded." — no time, no owner, no word
    on the next follow-up."""
    student = world["student"]
    tz = client.application.extensions["wellbeing.settings"].tz
    due = (dt.datetime.now(tz) + dt.timedelta(days=3)).replace(hour=10, minute=15)
    login(client, world["users"]["psych_teacher"])
    response = client.post(
        f"/students/{student.id}/followups/new", data={"due_at": due.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302
    assert f"Follow-up scheduled for {due.strftime('%Y-%m-%d %H:%M')} with you" in _flashes(client)
    followup = db_session.scalar(
        select(FollowUp).where(FollowUp.student_id == student.id, FollowUp.source == "manual")
    )
    later = due + dt.timedelta(days=2)
    client.post(
        f"/followups/{followup.id}/complete",
        data={"outcome": "rescheduled", "note": "学生请假",
              "reschedule_to": later.strftime("%Y-%m-%dT%H:%M")},
    )  # fmt: skip
    assert f"Next follow-up: {later.strftime('%Y-%m-%d %H:%M')}." in _flashes(client)
