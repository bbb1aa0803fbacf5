"""Issue 12 item 6: tier confirmations say what was done. A step-down from red is only
*requested* (it waits for a second person: who); a rise to red says whom the alert reached."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from wellbeing.alerts.models import AlertInbox
from wellbeing.risk.models import TierDecision
from wellbeing.risk.services import apply_tier

from ..conftest import login
from ..factories import make_school, make_student, staff_set


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    for user in users.values():
        user.locale = "en"  # the assertions read English messages
    student = make_student(db_session, school, name="王小明")
    return {"users": users, "student": student}


def _flashes(client) -> str:  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        return " ".join(message for _cat, message in sess.pop("_flashes", []))


def _decide(client, student, tier: int, reason: str) -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/students/{student.id}/tier", data={"tier": str(tier), "reason": reason}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return _flashes(client)


def test_rise_to_red_says_whom_the_alert_reached(client, db_session, world):
    login(client, world["users"]["psych_teacher"])
    message = _decide(client, world["student"], 3, "disclosed a plan")
    inbox = set(db_session.scalars(select(AlertInbox.user_id)))
    assert inbox == {world["users"]["psych_teacher"].id}
    assert "Tier changed from Green to Red. A crisis checklist is open." in message
    assert "Psychology teacher (1): in-app inbox only (no email address)" in message
    assert "the School leader will be alerted at" in message


def test_stepdown_request_says_it_waits_and_for_whom(client, db_session, world):
    """Old code: no word on who can approve; the screening review said "Decision recorded."
    for a step-down that only waits."""
    student = world["student"]
    login(client, world["users"]["psych_teacher"])
    _decide(client, student, 3, "disclosed a plan")
    message = _decide(client, student, 1, "safety plan holds")
    db_session.refresh(student)
    assert student.tier == 3  # nothing changed yet
    assert "is requested, not in effect: the student stays red" in message
    # red made the student district-involved: the district counsellors may approve too
    assert "Who can approve it: School leader (1); District counsellor (1)" in message
    assert "no message was sent" in message
    assert "Tier confirmed" not in message and "recorded" not in message


def test_screening_review_of_a_stepdown_says_it_waits(client, db_session, world):
    student = world["student"]
    apply_tier(db_session, None, student, 3, source="screening", reason="phq9_item9_red",
               provisional=True)  # fmt: skip
    login(client, world["users"]["psych_teacher"])
    response = client.post(
        f"/screening/review/{student.id}", data={"tier": "1", "reason": "interview: no intent"}
    )
    assert response.status_code == 302
    message = _flashes(client)
    assert "Decision recorded" not in message
    assert "is requested, not in effect" in message and "School leader (1)" in message


def test_withdrawn_and_declined_stepdowns_say_which(client, db_session, world):
    """Old code: withdrawing your own request said "Step-down declined"."""
    student, users = world["student"], world["users"]
    login(client, users["psych_teacher"])
    _decide(client, student, 3, "disclosed a plan")
    _decide(client, student, 1, "safety plan holds")
    pending = db_session.scalar(select(TierDecision).where(TierDecision.state == "pending"))
    client.post(f"/tier/stepdowns/{pending.id}/withdraw", data={"next": "tier"})
    assert "You withdrew your step-down request" in _flashes(client)
    _decide(client, student, 1, "safety plan holds")
    pending = db_session.scalar(select(TierDecision).where(TierDecision.state == "pending"))
    login(client, users["school_leader"])
    client.post(f"/tier/stepdowns/{pending.id}/reject")
    message = _flashes(client)
    assert message.startswith("Step-down declined: the student stays red.")


def test_confirmation_says_confirmed(client, db_session, world):
    login(client, world["users"]["psych_teacher"])
    apply_tier(db_session, None, world["student"], 2, source="screening", provisional=True)
    assert (
        _decide(client, world["student"], 2, "assessed")
        == "Tier Orange confirmed. No message was sent."
    )
