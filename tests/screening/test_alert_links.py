"""The screening result that raised an alert (issue 13, B.5): the alert page links the response
(instrument and date, never scores) for people who may read the student's screening; the
history and review pages list the alert and the crisis it raised; acknowledging the alert
leaves the provisional tier to the psychology teacher's decision and says so."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from wellbeing.alerts import links
from wellbeing.alerts import services as alert_services
from wellbeing.alerts.models import Alert, AlertState
from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.crisis.models import Crisis
from wellbeing.screening.links import event_items_of_responses, responses_of_alert
from wellbeing.screening.models import Response
from wellbeing.screening.services import record_answers
from wellbeing.students.models import Student

from ..conftest import login
from ..factories import make_school, make_user
from .helpers import open_campaign, phq, school_with_students


def _answers(total: int, item9: int = 0) -> dict[str, dict[str, int | None]]:
    return {"phq9": {f"phq9_{n + 1}": v for n, v in enumerate(phq(total, item9))}}


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 2)
    psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    stranger = make_user(
        db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session)
    )
    campaign = open_campaign(db_session, [school])
    record_answers(db_session, None, campaign, students[0], _answers(2, item9=1))  # red, critical
    record_answers(db_session, None, campaign, students[1], _answers(2))  # green
    db_session.flush()

    def response(student):  # type: ignore[no-untyped-def]
        return db_session.scalars(select(Response).where(Response.student_id == student.id)).one()

    red = response(students[0])
    alert = db_session.scalars(select(Alert).where(Alert.student_id == students[0].id)).one()
    crisis = db_session.scalars(select(Crisis).where(Crisis.student_id == students[0].id)).one()
    return {
        "students": students, "psych": psych, "stranger": stranger, "red": red,
        "green": response(students[1]), "alert": alert, "crisis": crisis,
        "p": build_principal(db_session, psych), "sp": build_principal(db_session, stranger),
    }  # fmt: skip


def test_the_red_tier_alert_links_the_response_and_back(db_session, world):  # type: ignore[no-untyped-def]
    alert, red, crisis, psych = world["alert"], world["red"], world["crisis"], world["p"]
    assert alert.kind == "red_tier" and red.critical  # the critical item joined the red alert
    assert [r.id for r in responses_of_alert(db_session, alert)] == [red.id]
    items = {(i.kind, i.id) for i in links.linked_items(db_session, psych, alert)}
    assert items == {("screening", red.id), ("crisis", crisis.id)}
    back = event_items_of_responses(db_session, psych, [red.id])
    assert [(i.kind, i.id) for i in back] == [("alert", alert.id), ("crisis", crisis.id)]
    assert event_items_of_responses(db_session, psych, [world["green"].id]) == []


def test_a_critical_item_alert_links_its_response(db_session, world):  # type: ignore[no-untyped-def]
    green, student = world["green"], world["students"][1]
    alert = alert_services.raise_alert(
        db_session, kind="critical_item", school_id=student.school_id, student_id=student.id,
        source_id=green.id, tier=3,
    )  # fmt: skip
    items = links.linked_items(db_session, world["p"], alert)
    assert [(i.kind, i.id) for i in items if i.kind == "screening"] == [("screening", green.id)]
    back = event_items_of_responses(db_session, world["p"], [green.id])
    assert ("alert", alert.id) in {(i.kind, i.id) for i in back}


def test_only_people_who_may_read_the_screening_see_it(db_session, world):  # type: ignore[no-untyped-def]
    assert links.linked_items(db_session, world["sp"], world["alert"]) == []
    assert event_items_of_responses(db_session, world["sp"], [world["red"].id]) == []


def test_the_pages_show_the_event_without_scores(client, db_session, world):  # type: ignore[no-untyped-def]
    alert, red, crisis, student = (
        world["alert"],
        world["red"],
        world["crisis"],
        world["students"][0],
    )
    login(client, world["psych"])
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert 'data-testid="linked-screening"' in page
    assert f"/students/{student.id}/screening" in page and "PHQ-9" in page
    assert "Total" not in page and "total" not in page  # no score on the alert page
    history = client.get(f"/students/{student.id}/screening").get_data(as_text=True)
    assert f"/alerts/{alert.id}" in history and f"/crisis/{crisis.id}" in history
    assert "Alerts raised by these results" in history
    review = client.get("/screening/review").get_data(as_text=True)
    assert 'data-testid="review-linked"' in review and f"/alerts/{alert.id}" in review
    assert red.id  # the response page is the history (no page of its own)


def test_acknowledging_leaves_the_tier_decision_to_the_teacher(app, db_session, world):  # type: ignore[no-untyped-def]
    done = alert_services.acknowledge_event(db_session, world["p"], world["alert"].id)
    assert done.alert.state == AlertState.ACKNOWLEDGED
    student = db_session.get(Student, world["students"][0].id)
    assert student.tier == 3 and student.tier_provisional  # still waiting in the review queue
    with app.test_request_context():
        message = done.message()
    assert "review queue" in message
