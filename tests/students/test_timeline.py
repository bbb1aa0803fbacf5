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
    w.extra["student"] = student
    return w


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
