"""Issue 12 item 6: every confirmation says exactly what was done — who was told (by role and
how many people), by which channel, and what still waits for whom — checked against the rows
that were really written (inbox entries, queued emails)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from wellbeing.alerts.models import Alert, AlertInbox
from wellbeing.notify.models import OutboxMessage
from wellbeing.orgs.models import SchoolClass

from ..conftest import login
from ..factories import make_school, make_student, make_user, staff_set


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    for user in users.values():
        user.locale = "en"  # the assertions read English messages
    users["psych_teacher"].email = "psych@school.example"
    klass = db_session.get(SchoolClass, users["class_teacher"].memberships[0].class_id)
    student = make_student(db_session, school, klass, name="周小雨")
    return {"school": school, "users": users, "student": student}


def _flashes(client) -> str:  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        return " ".join(message for _cat, message in sess.pop("_flashes", []))


def _report(client, world, urgency: str, category: str = "mood") -> str:  # type: ignore[no-untyped-def]
    login(client, world["users"]["class_teacher"])
    response = client.post(
        "/concerns/new",
        data={"student_id": str(world["student"].id), "category": category, "urgency": urgency,
              "text": "课间说不想活了"},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    return _flashes(client)


def _inbox_users(db_session) -> set:  # type: ignore[no-untyped-def]
    return set(db_session.scalars(select(AlertInbox.user_id)))


def _emailed_users(db_session) -> set:  # type: ignore[no-untyped-def]
    return set(db_session.scalars(select(OutboxMessage.user_id)))


def test_urgent_concern_says_who_was_alerted_and_who_waits(client, db_session, world):
    """Old code: "The psychology teacher and the school leader are alerted now", while only the
    psychology teacher was (the leader is the next rung, an hour later)."""
    message = _report(client, world, "immediate_danger")
    psych, leader = world["users"]["psych_teacher"], world["users"]["school_leader"]
    # what really happened: the psych teacher's inbox and email, nobody else yet
    assert _inbox_users(db_session) == {psych.id}
    assert _emailed_users(db_session) == {psych.id}
    assert leader.id not in _inbox_users(db_session)
    assert "Alerted now: Psychology teacher (1): in-app inbox and email." in message
    alert = db_session.scalar(select(Alert))
    tz = client.application.extensions["wellbeing.settings"].tz
    at_local, raised_local = alert.next_step_at.astimezone(tz), alert.raised_at.astimezone(tz)
    # the time alone on the same local day; the date too when the next rung falls after
    # midnight (the test failed between 23:00 and 24:00 Shanghai time before saying so)
    fmt = "%H:%M" if at_local.date() == raised_local.date() else "%Y-%m-%d %H:%M"
    at = at_local.strftime(fmt)
    assert f"If nobody acknowledges, the School leader will be alerted at {at}." in message
    assert "Stay with the student" in message
    # the leader is named only as waiting, never as told
    assert message.count("School leader") == 1


def test_urgent_concern_without_email_or_psych_teacher(client, db_session, env, world):
    """A psychology teacher without an email address gets the inbox only, and is told so; a
    school with no psychology teacher alerts its leader at once, and says so."""
    second = make_user(db_session, env.settings, "psych_teacher", school=world["school"])
    message = _report(client, world, "immediate_danger")
    assert _inbox_users(db_session) == {world["users"]["psych_teacher"].id, second.id}
    assert _emailed_users(db_session) == {world["users"]["psych_teacher"].id}
    assert "Psychology teacher (2): in-app inbox; email to 1 of them" in message

    other = make_school(db_session)
    leader = make_user(db_session, env.settings, "school_leader", school=other)
    leader.email = "leader@other.example"
    teacher = make_user(db_session, env.settings, "class_teacher", school=other)
    teacher.locale = "en"
    pupil = make_student(
        db_session, other, db_session.get(SchoolClass, teacher.memberships[0].class_id)
    )
    login(client, teacher)
    client.post(
        "/concerns/new",
        data={"student_id": str(pupil.id), "category": "mood", "urgency": "immediate_danger",
              "text": "有危险"},
    )  # fmt: skip
    message = _flashes(client)
    alert = db_session.scalar(select(Alert).where(Alert.student_id == pupil.id))
    notified = set(
        db_session.scalars(select(AlertInbox.user_id).where(AlertInbox.alert_id == alert.id))
    )
    assert notified == {leader.id}
    assert "Alerted now: School leader (1): in-app inbox and email." in message
    assert "District counsellor will be alerted at" in message
    assert "Psychology teacher" not in message


def test_routine_concern_says_it_is_in_the_queue_and_nobody_was_messaged(client, db_session, world):
    """Old code: "Your report was sent to the psychology teacher" (nothing is sent)."""
    message = _report(client, world, "routine")
    assert _inbox_users(db_session) == set() and _emailed_users(db_session) == set()
    assert (
        "in the school's concern queue, for: Psychology teacher (1); School leader (1)" in message
    )
    assert "No message was sent" in message


def test_concern_marked_says_what_the_reporter_sees(client, db_session, world):
    _report(client, world, "routine")
    login(client, world["users"]["psych_teacher"])
    queue = client.get("/concerns/queue").get_data(as_text=True)
    concern_id = re.search(r"/concerns/([0-9a-f-]{36})", queue).group(1)
    client.post(f"/concerns/{concern_id}/mark", data={"action": "acted", "note": "已谈话"})
    message = _flashes(client)
    assert message.startswith("Marked as acted on.") and "no message was sent" in message


def test_hotline_call_about_a_student_says_where_the_concern_went(client, db_session, world):
    counsellor = world["users"]["counsellor"]
    login(client, counsellor)
    response = client.post(
        "/hotline/new",
        data={"called_at": "2026-03-01T20:00", "duration_minutes": "15", "caller_type": "guardian",
              "topics": ["mood"], "risk_level": "3", "school_id": str(world["school"].id),
              "student_number": world["student"].student_number, "notes": "孩子说想结束生命"},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    message = _flashes(client)
    assert _inbox_users(db_session) == {world["users"]["psych_teacher"].id}
    assert "an urgent concern went to the student's school" in message
    assert "Alerted now: Psychology teacher (1): in-app inbox and email." in message
