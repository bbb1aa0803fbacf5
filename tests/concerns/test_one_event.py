"""One event, one acknowledgement (issue 13, B.5): an urgent concern, the alert it raised and
the crisis it opened are linked both ways, shown together, and acknowledging the alert records
the crisis's first step and marks the concern seen, each audited, in one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from wellbeing.alerts import services as alert_services
from wellbeing.alerts.models import Alert, AlertState
from wellbeing.auth.services import build_principal
from wellbeing.concerns import services
from wellbeing.concerns.models import Concern, ConcernState
from wellbeing.core.audit import AuditAction
from wellbeing.crisis import services as crisis_services
from wellbeing.crisis.models import FIRST_STEP, Crisis
from wellbeing.orgs.models import SchoolClass

from ..conftest import login
from ..factories import make_school, make_student, staff_set


@pytest.fixture
def event(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    klass = db_session.get(SchoolClass, users["class_teacher"].memberships[0].class_id)
    student = make_student(db_session, school, klass, name="王小明")
    principals = {role: build_principal(db_session, u) for role, u in users.items()}
    concern = services.create_concern(
        db_session, principals["class_teacher"], student, category="self_harm_signs",
        urgency="immediate_danger", text="说想从楼上跳下去",
    )  # fmt: skip
    alert = db_session.get_one(Alert, concern.alert_id)
    crisis = db_session.scalars(select(Crisis).where(Crisis.student_id == student.id)).one()
    return {"users": users, "p": principals, "concern": concern, "alert": alert, "crisis": crisis}


def test_the_three_are_linked_both_ways(db_session, event):
    concern, alert, crisis = event["concern"], event["alert"], event["crisis"]
    assert concern.alert_id == alert.id and crisis.alert_id == alert.id
    psych = event["p"]["psych_teacher"]
    from_alert = {
        (i.kind, i.id) for i in alert_services.links.linked_items(db_session, psych, alert)
    }
    assert from_alert == {("crisis", crisis.id), ("concern", concern.id)}
    from_crisis = alert_services.event_items(db_session, psych, crisis.alert_id, exclude=crisis.id)
    assert {(i.kind, i.id) for i in from_crisis} == {("alert", alert.id), ("concern", concern.id)}
    from_concern = alert_services.event_items(
        db_session, psych, concern.alert_id, exclude=concern.id
    )
    assert {(i.kind, i.id) for i in from_concern} == {("alert", alert.id), ("crisis", crisis.id)}


def test_the_reporter_sees_none_of_the_case(db_session, event):
    teacher = event["p"]["class_teacher"]
    assert alert_services.links.linked_items(db_session, teacher, event["alert"]) == []


def test_acknowledging_the_alert_acknowledges_the_crisis_and_the_concern(
    app, db_session, event, audit_entries
):
    psych, concern, crisis = event["p"]["psych_teacher"], event["concern"], event["crisis"]
    done = alert_services.acknowledge_event(db_session, psych, event["alert"].id)
    assert done.alert.state == AlertState.ACKNOWLEDGED
    step = crisis_services.steps_of(db_session, crisis)[FIRST_STEP]
    assert step.done_by_id == psych.user_id
    assert concern.state == ConcernState.SEEN and concern.seen_by_id == psych.user_id
    assert len(done.done) == 2
    with app.test_request_context():
        message = done.message()
    assert "Acknowledge" in message and "marked as seen" in message
    assert [e.object_id for e in audit_entries(AuditAction.ALERT_ACK)] == [str(event["alert"].id)]
    steps = [e.detail.get("step") for e in audit_entries(AuditAction.CRISIS_UPDATE)]
    assert FIRST_STEP in steps
    (seen,) = audit_entries(AuditAction.CONCERN_UPDATE)
    assert seen.object_id == str(concern.id) and seen.detail["status"] == "seen"


def test_an_acknowledged_crisis_or_a_handled_concern_is_left_alone(db_session, event):
    psych, concern, crisis = event["p"]["psych_teacher"], event["concern"], event["crisis"]
    crisis_services.complete_step(db_session, event["p"]["school_leader"], crisis, FIRST_STEP)
    services.mark(db_session, psych, concern, ConcernState.ACTED)
    done = alert_services.acknowledge_event(db_session, psych, event["alert"].id)
    assert done.done == []
    assert crisis_services.steps_of(db_session, crisis)[FIRST_STEP].done_by_id != psych.user_id
    assert concern.state == ConcernState.ACTED


def test_the_pages_show_each_other_and_the_confirmation_says_what_was_done(
    client, db_session, event
):
    alert, crisis, concern = event["alert"], event["crisis"], event["concern"]
    login(client, event["users"]["psych_teacher"])
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert f"/crisis/{crisis.id}" in page and f"/concerns/{concern.id}" in page
    page = client.get(f"/crisis/{crisis.id}").get_data(as_text=True)
    assert f"/alerts/{alert.id}" in page and f"/concerns/{concern.id}" in page
    page = client.get(f"/concerns/{concern.id}").get_data(as_text=True)
    assert f"/alerts/{alert.id}" in page and f"/crisis/{crisis.id}" in page

    response = client.post(f"/alerts/{alert.id}/acknowledge", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "The escalation has stopped." in page
    assert "recorded for the crisis opened" in page and "was marked as seen" in page
    db_session.expire_all()
    assert db_session.get_one(Concern, concern.id).state == ConcernState.SEEN
    assert FIRST_STEP in crisis_services.steps_of(db_session, db_session.get_one(Crisis, crisis.id))


def test_the_reporter_opens_none_of_the_linked_pages(client, event):
    login(client, event["users"]["class_teacher"])
    assert client.get(f"/crisis/{event['crisis'].id}").status_code == 403
    assert client.get(f"/concerns/{event['concern'].id}").status_code == 403
