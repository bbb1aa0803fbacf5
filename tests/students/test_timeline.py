"""The growth-record timeline: what each role sees of each kind of item, through HTTP.

The visibility table below is written by hand (never computed from the policy): for every item
kind and role, ``FULL`` (the item with its details), ``SUMMARY`` (when and what kind of thing,
nothing of its content) or ``HIDDEN`` (absent; for a role that may not open the student's
record at all, the page itself is refused with 403).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from wellbeing.alerts.models import Alert, AlertState
from wellbeing.core import audit
from wellbeing.crisis.models import Crisis, CrisisState, CrisisStep, GuardianContact
from wellbeing.db import utcnow
from wellbeing.followups.models import DONE, FollowUp
from wellbeing.risk.models import TierDecision

from ..authz import build_world
from ..conftest import login
from ..factories import make_student

FULL, SUMMARY, HIDDEN = "full", "summary", "hidden"
KINDS = (
    "screening", "tier", "concern", "hotline", "alert", "crisis", "followup", "guardian_contact",
    "plan_version", "plan_signoff", "plan_goal", "consent", "referral", "referral_feedback",
)  # fmt: skip
ROLES = (
    "psych_teacher", "class_teacher", "school_leader", "counsellor", "counsellor_uninvolved",
    "supervisor", "partner",
)  # fmt: skip

# fmt: off
# kind              psych   class   leader   counsellor  counsellor    supervisor partner
#                   teacher teacher          (involved)  (not invol.)
TABLE = {
    "screening":        (FULL, HIDDEN, SUMMARY, FULL, HIDDEN, HIDDEN, HIDDEN),
    "tier":             (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    "concern":          (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    "hotline":          (SUMMARY, HIDDEN, SUMMARY, FULL, HIDDEN, HIDDEN, HIDDEN),
    "alert":            (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    "crisis":           (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    "followup":         (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    "guardian_contact": (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    # plans: leaders read plans; a class teacher sees only their own tasks (on their task list)
    "plan_version":     (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    "plan_signoff":     (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    "plan_goal":        (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    # consent entries of the guardian-contact log: as guardian contacts (crisis managers)
    "consent":          (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    # referrals: the school's psychology teachers and leaders and the centre read the moves;
    # the partner's feedback in full to the sender and the centre, leaders see that it came
    "referral":          (FULL, HIDDEN, FULL,    FULL, HIDDEN, HIDDEN, HIDDEN),
    "referral_feedback": (FULL, HIDDEN, SUMMARY, FULL, HIDDEN, HIDDEN, HIDDEN),
}
# fmt: on
# A text of each kind that only the full item shows (the summary never does).
FULL_MARKS = {
    "screening": "PHQ-9",
    "tier": "Reason:",
    "concern": "Urgency:",
    "hotline": "minutes",
    "alert": "Acknowledged by",
    "crisis": "Closed by",
    "followup": "Outcome:",
    "guardian_contact": "Channel:",
    "plan_version": "Next review:",
    "plan_signoff": "signed off",
    "plan_goal": "Progress:",
    "consent": "Guardian:",
    "referral": "State:",
    "referral_feedback": "Summary:",
}  # fmt: skip


def _principal(w, role):  # type: ignore[no-untyped-def]
    from wellbeing.auth.services import build_principal

    return build_principal(w.session, w.users[role])


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    """A district-involved student of the own school with one item (at least) of every kind."""
    from tests.screening.helpers import open_campaign
    from wellbeing.concerns.hotline import log_hotline_call
    from wellbeing.concerns.services import create_concern
    from wellbeing.screening.services import record_answers

    w = build_world(db_session, env.settings)
    now = utcnow()
    psych = w.users["psych_teacher"]
    student = make_student(db_session, w.own_school, district_involved=True)
    campaign = open_campaign(db_session, [w.own_school])
    answers = {f"phq9_{n}": 1 for n in range(1, 10)}
    record_answers(db_session, None, campaign, student, {"phq9": answers})
    create_concern(
        db_session, _principal(w, "psych_teacher"), student, category="mood", urgency="routine",
        text="secret concern text",
    )  # fmt: skip
    log_hotline_call(
        db_session, _principal(w, "counsellor"), called_at=now, duration_minutes=12,
        caller_type="guardian", topics=["family"], risk_level=1, notes="secret hotline notes",
        school_id=w.own_school.id, student_number=student.student_number,
    )  # fmt: skip
    decision = TierDecision(
        student_id=student.id, school_id=student.school_id, from_tier=0, to_tier=2,
        source="manual", decided_by=psych.id,
    )  # fmt: skip
    decision.reason = "talked about the move"
    alert = Alert(
        kind="red_tier", district_id=w.own_school.district_id, school_id=student.school_id,
        student_id=student.id, tier=3, state=AlertState.ACKNOWLEDGED, due_at=now,
        acknowledged_by_id=psych.id, acknowledged_at=now,
    )  # fmt: skip
    crisis = Crisis(
        student_id=student.id, school_id=student.school_id, state=CrisisState.CLOSED,
        opened_at=now - dt.timedelta(days=40), closed_at=now - dt.timedelta(days=30),
        closed_by_id=psych.id,
    )  # fmt: skip
    db_session.add_all([decision, alert, crisis])
    db_session.flush()
    step = CrisisStep(crisis_id=crisis.id, step="assessment", done_at=crisis.opened_at,
                      done_by_id=psych.id)  # fmt: skip
    contact = GuardianContact(
        student_id=student.id, school_id=student.school_id, crisis_id=crisis.id,
        staff_id=psych.id, relation="mother", channel="phone", contacted_at=crisis.opened_at,
        consent_purpose="referral", consent="given",
    )  # fmt: skip
    contact.summary = "secret contact summary"
    followup = FollowUp(
        student_id=student.id, school_id=student.school_id, owner_id=psych.id,
        due_at=now - dt.timedelta(days=2), source="manual", state=DONE, outcome="seen",
        completed_by=psych.id, completed_at=now - dt.timedelta(days=2),
    )  # fmt: skip
    followup.note = "secret followup note"
    db_session.add_all([step, contact, followup])
    db_session.flush()
    _plan_items(db_session, student, psych.id, w.users["school_leader"].id, now)
    _referral_items(db_session, w, student)
    w.extra["student"] = student
    return w


def _referral_items(session, w, student):  # type: ignore[no-untyped-def]
    """A referral through to the partner's feedback (the guardian's consent is the crisis's
    contact above)."""
    from tests.referrals.helpers import liaison, make_partner
    from wellbeing.referrals import services as referrals

    student.guardians = [{"name": "王母", "phone": "13800000000", "relation": "mother"}]
    partner = make_partner(session, w.own_school.district_id, "时间线医院")
    sender, centre = _principal(w, "psych_teacher"), _principal(w, "counsellor")
    w.users["liaison"] = liaison(session, w.settings, partner)
    desk = _principal(w, "liaison")
    rid = referrals.create_draft(
        session, sender, student.id, referrals.ReferralInput(reason="需要专科评估")
    ).id
    referrals.submit(session, sender, rid)
    referrals.accept(session, centre, rid)
    referrals.send(session, centre, rid, partner.id)
    referrals.acknowledge(session, desk, rid)
    referrals.schedule(session, desk, rid, utcnow() + dt.timedelta(days=1))
    referrals.record_attendance(session, desk, rid, True)
    referrals.record_feedback(
        session, desk, rid, referrals.FeedbackInput(summary="门诊评估已完成", advises_return=True)
    )


def _plan_items(session, student, author_id, leader_id, now):  # type: ignore[no-untyped-def]
    """A plan with two versions (the goal's progress changed between them) and a sign-off."""
    from wellbeing.plans.models import Plan, PlanSignoff, PlanState, PlanVersion
    from wellbeing.plans.queries import open_plan

    plan = open_plan(session, student.id)  # the red screening proposed one
    if plan is None:
        plan = Plan(student_id=student.id, school_id=student.school_id, created_by=author_id)
        session.add(plan)
    plan.state, plan.latest_version, plan.effective_version = PlanState.ACTIVE, 2, 2
    session.flush()
    goal = {"id": "g1", "text": "sleep seven hours", "measure": "", "target_date": None,
            "lifecycle": "active", "achievement": "in_progress", "concern_ids": []}  # fmt: skip
    for number, achievement in ((1, "in_progress"), (2, "improving")):
        version = PlanVersion(
            plan_id=plan.id, number=number, author_id=author_id, tier=2, material=number == 1,
            signoff_required=number == 1, review_due=now.date(), writers=[author_id.hex],
            created_at=now - dt.timedelta(days=3 - number),
        )  # fmt: skip
        version.body = {"goals": [{**goal, "achievement": achievement}]}
        session.add(version)
        session.flush()
        if number == 1:
            session.add(PlanSignoff(plan_id=plan.id, version_id=version.id, decision="signed",
                                    by_id=leader_id, role="school_leader"))  # fmt: skip
    session.flush()


def _open(client, w, role, query=""):  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        sess.clear()
    user = w.users["counsellor" if role.startswith("counsellor") else role]
    login(client, user)
    student = w.extra["student"]
    if role == "counsellor_uninvolved":
        student.district_involved = False
        w.session.flush()
    try:
        return client.get(f"/students/{student.id}/timeline{query}")
    finally:
        if role == "counsellor_uninvolved":
            student.district_involved = True
            w.session.flush()


def _items(html: str) -> dict[str, list[str]]:
    """kind -> the visibility of each of its items on the page, and the items' html."""
    found: dict[str, list[str]] = {}
    for kind, visibility in re.findall(r'data-kind="([a-z_]+)" data-visibility="([a-z]+)"', html):
        found.setdefault(kind, []).append(visibility)
    return found


def _item_html(html: str, kind: str) -> str:
    return "".join(
        re.findall(rf'<li class="timeline-item[^"]*" data-kind="{kind}".*?\n  </li>', html, re.S)
    )


@pytest.mark.parametrize("role", ROLES)
def test_each_kind_is_shown_to_each_role_as_the_table_says(client, world, role):
    response = _open(client, world, role)
    column = ROLES.index(role)
    expected = {kind: row[column] for kind, row in TABLE.items()}
    if set(expected.values()) == {HIDDEN}:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = _items(html)
    for kind in KINDS:
        if expected[kind] == HIDDEN:
            assert kind not in shown, (role, kind)
            continue
        assert shown.get(kind), (role, kind, "no item shown")
        assert set(shown[kind]) == {expected[kind]}, (role, kind, shown[kind])
        mark = FULL_MARKS[kind]
        assert (mark in _item_html(html, kind)) == (expected[kind] == FULL), (role, kind)
    for secret in ("secret", "talked about"):
        if secret == "talked about" and expected["tier"] == FULL:
            continue  # a person's own reason is the reason shown
        assert secret not in html, (role, secret)


def test_opening_is_one_audit_entry_naming_the_kinds_never_values(client, world, audit_entries):
    response = _open(client, world, "school_leader")
    assert response.status_code == 200
    entries = [
        e for e in audit_entries(audit.AuditAction.STUDENT_VIEW)
        if e.student_id == world.extra["student"].id
    ]  # fmt: skip
    assert len(entries) == 1
    fields = set(entries[0].fields)
    assert {"timeline", "timeline.tier", "timeline.screening.summary", "timeline.alert"} <= fields
    assert all(f == "timeline" or f.startswith(("timeline.", "note.")) for f in fields)


def test_filter_by_kind_and_dates(client, world):
    html = _open(client, world, "psych_teacher", "?kinds=crisis&kinds=guardian_contact").get_data(
        as_text=True
    )
    assert set(_items(html)) == {"crisis", "guardian_contact"}
    since = (utcnow() - dt.timedelta(days=10)).date().isoformat()
    html = _open(client, world, "psych_teacher", f"?since={since}").get_data(as_text=True)
    shown = _items(html)
    # The closed crisis and its guardian contact were 40 days ago (the screening's own crisis,
    # opened today, stays).
    assert "guardian_contact" not in shown and "Closed by" not in html
    assert {"screening", "alert", "followup"} <= set(shown)


@pytest.mark.parametrize(
    "query, message",
    [
        ("?since=2026-02-30", "YYYY-MM-DD"),
        ("?since=2026-05-01&until=2026-04-01", "before the start"),
    ],
)
def test_bad_dates_are_refused_with_a_clear_message(client, world, query, message):
    response = _open(client, world, "psych_teacher", query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'data-kind="' not in html


def test_the_record_links_to_the_timeline(client, world):
    with client.session_transaction() as sess:
        sess.clear()
    login(client, world.users["psych_teacher"])
    student = world.extra["student"]
    html = client.get(f"/students/{student.id}").get_data(as_text=True)
    assert f"/students/{student.id}/timeline" in html


def test_every_kind_is_declared_once_in_a_timeline_file():
    from wellbeing import modules
    from wellbeing.students import timeline

    assert set(KINDS) <= set(timeline.kinds())
    assert all(m.__name__.endswith(".timeline") for m in modules.parts("timeline"))
