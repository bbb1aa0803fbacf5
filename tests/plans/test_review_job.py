"""The overdue job: a review past its date, and a proposal not written in time, raise one alert
each through the ladder, once per overdue period."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from wellbeing.alerts.common import KIND_LABELS
from wellbeing.alerts.models import KINDS, Alert
from wellbeing.core.scheduler import collect_jobs
from wellbeing.plans import jobs, queries, services

from .conftest import NOW, TODAY, complete_body
from .test_services import write

DAY = dt.timedelta(days=1)


def _alerts(db, kind):  # type: ignore[no-untyped-def]
    return db.scalars(select(Alert).where(Alert.kind == kind)).all()


def test_the_kinds_are_known_and_labelled():
    for kind in ("plan_review_overdue", "plan_proposal_overdue"):
        assert kind in KINDS and kind in KIND_LABELS
    assert any(job.id == "plans.overdue" for job in collect_jobs())


def test_an_overdue_review_alerts_once_per_period(db_session, plans_world):
    w = plans_world
    plan, _ = write(db_session, w, w.orange, complete_body())
    services.sign(db_session, w.leader, plan.id, 1)
    due = plan.review_due
    assert [r.plan.id for r in queries.reviews_due(db_session, w.psych, due - 7 * DAY)] == [plan.id]
    assert queries.reviews_due(db_session, w.psych, due - 8 * DAY) == []
    on_the_day = dt.datetime.combine(due, dt.time(4), tzinfo=dt.UTC)
    assert jobs.overdue_scan(db_session, on_the_day) == 0
    later = on_the_day + DAY
    assert jobs.overdue_scan(db_session, later) == 1
    assert jobs.overdue_scan(db_session, later + DAY) == 0
    [alert] = _alerts(db_session, "plan_review_overdue")
    assert (alert.student_id, alert.source_id, alert.tier) == (w.orange.id, plan.id, 2)
    assert plan.review_alerted_at == later
    # Reviewed: a new review date, a new period.
    services.start_review(db_session, w.psych, plan.id, now=later)
    assert jobs.overdue_scan(db_session, later + DAY) == 0  # alerted already in this period
    services.save_version(db_session, w.psych, plan.id, now=later)
    assert plan.review_alerted_at is None and plan.review_due > due


def test_an_overdue_proposal_alerts(db_session, plans_world):
    w = plans_world
    plan = services.propose_for(db_session, w.red, 3, now=NOW)
    assert plan is not None
    after = dt.datetime.combine(plan.proposal_due + DAY, dt.time(4), tzinfo=dt.UTC)
    assert jobs.overdue_scan(db_session, NOW) == 0
    assert jobs.overdue_scan(db_session, after) == 1
    [alert] = _alerts(db_session, "plan_proposal_overdue")
    assert (alert.source_id, alert.tier) == (plan.id, 3)
    assert plan.proposal_due > TODAY
