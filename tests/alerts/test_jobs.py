"""The escalation job as the scheduler runs it: a JobContext, its own unit of work, committed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from wellbeing.alerts import jobs
from wellbeing.alerts.models import Alert, AlertStep
from wellbeing.alerts.services import raise_alert
from wellbeing.core.authz import Role
from wellbeing.core.jobs import JobContext
from wellbeing.notify.models import OutboxMessage

from ..conftest import BACKENDS
from ..factories import make_school, make_student, make_user

T0 = dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.UTC)


def test_jobs_are_declared():
    assert [(j.id, j.func, j.seconds) for j in jobs.JOBS] == [
        ("alerts.escalation_scan", "wellbeing.alerts.jobs:escalation_scan", 60)
    ]


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_escalation_job_commits_steps_and_uses_the_configured_base_url(fresh_env):
    settings = fresh_env.settings.with_overrides(base_url="https://wb.district.example")
    with fresh_env.db.session() as session:
        school = make_school(session)
        student = make_student(session, school)
        make_user(session, settings, Role.PSYCH_TEACHER, school=school)
        leader = make_user(session, settings, Role.SCHOOL_LEADER, school=school)
        leader.email = "leader@district.example"
        alert_id = raise_alert(
            session, kind="red_tier", school_id=school.id, student_id=student.id, tier=3, now=T0
        ).id
    assert (
        jobs.escalation_scan(JobContext(fresh_env.db, settings, T0 + dt.timedelta(minutes=30))) == 0
    )
    assert (
        jobs.escalation_scan(JobContext(fresh_env.db, settings, T0 + dt.timedelta(minutes=61))) == 1
    )
    with fresh_env.db.session() as session:
        assert session.get(Alert, alert_id).rung == 1
        roles = session.scalars(
            select(AlertStep.role).where(AlertStep.alert_id == alert_id).order_by(AlertStep.at)
        ).all()
        assert roles == ["psych_teacher", "school_leader"]
        mail = session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == leader.id)
        ).one()
        assert f"https://wb.district.example/alerts/{alert_id}" in mail.body
