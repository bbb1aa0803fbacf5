"""Plan alerts (``plan_review_overdue``, ``plan_proposal_overdue``) lead to the student's plan:
the alert page lists the plan (state and missed date, never content) for people who may read
it, links to the plan page, and acknowledging says where to go for those who may write it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from wellbeing.alerts import links
from wellbeing.alerts import services as alert_services
from wellbeing.alerts.models import Alert
from wellbeing.plans import jobs, services

from ..conftest import login
from .conftest import NOW, complete_body
from .test_services import write

DAY = dt.timedelta(days=1)


def _review_alert(db, w):  # type: ignore[no-untyped-def]
    plan, _ = write(db, w, w.orange, complete_body())
    services.sign(db, w.leader, plan.id, 1, now=NOW)
    later = dt.datetime.combine(plan.review_due + 2 * DAY, dt.time(4), tzinfo=dt.UTC)
    assert jobs.overdue_scan(db, later) == 1
    alert = db.scalars(select(Alert).where(Alert.kind == "plan_review_overdue")).one()
    return plan, alert


def test_the_review_alert_lists_the_plan_for_plan_readers_only(db_session, plans_world):
    w = plans_world
    plan, alert = _review_alert(db_session, w)
    [item] = links.linked_items(db_session, w.psych, alert)
    assert (item.kind, item.id, item.endpoint) == ("plan", plan.id, "plans.plan")
    assert item.args == {"student_id": w.orange.id}
    assert [i.kind for i in links.linked_items(db_session, w.leader, alert)] == ["plan"]
    assert links.linked_items(db_session, w.class_teacher, alert) == []  # no PLANS_READ
    # Another school's psychology teacher: no access to the student, no link.
    assert links.linked_items(db_session, w.p["other_school_psych"], alert) == []


def test_acknowledging_points_to_the_plan_and_moves_nothing(db_session, plans_world):
    w = plans_world
    plan, alert = _review_alert(db_session, w)
    state = plan.state
    done = alert_services.acknowledge_event(db_session, w.psych, alert.id)
    assert "plan" in done.message().lower() or "方案" in done.message()
    assert len(done.done) == 1 and plan.state == state


def test_a_proposal_alert_links_its_plan(app, db_session, plans_world):
    w = plans_world
    plan = services.propose_for(db_session, w.red, 3, now=NOW)
    assert plan is not None and plan.proposal_due is not None
    after = dt.datetime.combine(plan.proposal_due + DAY, dt.time(4), tzinfo=dt.UTC)
    assert jobs.overdue_scan(db_session, after) == 1
    alert = db_session.scalars(select(Alert).where(Alert.kind == "plan_proposal_overdue")).one()
    [item] = links.linked_items(db_session, w.psych, alert)
    assert item.id == plan.id and item.args == {"student_id": w.red.id}
    with app.test_request_context():
        label = str(item.label)
    assert str(plan.proposal_due.year) in label and str(plan.proposal_due.day) in label


def test_other_alerts_link_no_plan(db_session, plans_world):
    w = plans_world
    write(db_session, w, w.orange, complete_body())
    alert = alert_services.raise_alert(db_session, kind="followup_overdue",
                                       school_id=w.school.id, student_id=w.orange.id)  # fmt: skip
    assert [i for i in links.linked_items(db_session, w.psych, alert) if i.kind == "plan"] == []


def test_the_alert_page_links_the_plan_and_acknowledging_leads_there(
    client, db_session, plans_world
):
    w = plans_world
    _plan, alert = _review_alert(db_session, w)
    db_session.flush()
    login(client, w.users["psych_teacher"])
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert f'href="/students/{w.orange.id}/plan"' in page
    response = client.post(f"/alerts/{alert.id}/acknowledge", data={})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'href="/students/{w.orange.id}/plan"' in page
    plan_page = client.get(f"/students/{w.orange.id}/plan")
    assert plan_page.status_code == 200
