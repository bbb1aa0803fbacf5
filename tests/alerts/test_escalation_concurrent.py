"""Two schedulers scanning at once (PostgreSQL): due alerts are locked ``FOR UPDATE SKIP LOCKED``,
so a second scan skips what the first holds instead of escalating it again or waiting."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select, text

from wellbeing.alerts import services
from wellbeing.alerts.models import Alert, AlertStep
from wellbeing.core.authz import Role
from wellbeing.notify.models import OutboxMessage

from ..conftest import BACKENDS
from ..factories import make_school, make_student, make_user

T0 = dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.UTC)
DUE = T0 + dt.timedelta(minutes=61)

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL row locks")


def _world(env, alerts: int) -> list[uuid.UUID]:
    with env.db.session() as session:
        school = make_school(session)
        make_user(session, env.settings, Role.PSYCH_TEACHER, school=school)
        leader = make_user(session, env.settings, Role.SCHOOL_LEADER, school=school)
        leader.email = "leader@district.example"
        return [
            services.raise_alert(
                session,
                kind="red_tier",
                school_id=school.id,
                student_id=make_student(session, school).id,
                source_id=uuid.uuid4(),
                tier=3,
                now=T0,
            ).id
            for _ in range(alerts)
        ]


def _second_scheduler(env):
    session = env.db.sessionmaker()
    session.execute(text("SET LOCAL lock_timeout = '5s'"))  # waiting would be a failure
    return session


def _steps_per_alert(env) -> dict[uuid.UUID, int]:
    with env.db.session() as session:
        return dict(
            session.execute(
                select(AlertStep.alert_id, func.count()).group_by(AlertStep.alert_id)
            ).all()
        )


@pytest.mark.parametrize("fresh_env", ["postgresql"], indirect=True)
def test_a_second_scan_skips_what_the_first_holds(fresh_env):
    ids = _world(fresh_env, 5)
    first = fresh_env.db.sessionmaker()
    second = _second_scheduler(fresh_env)
    try:
        assert services.escalation_scan(first, DUE, limit=2) == 2  # holds two alerts
        assert services.escalation_scan(second, DUE) == 3  # the other three, without waiting
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert _steps_per_alert(fresh_env) == dict.fromkeys(ids, 2)  # raise + one escalation each
    with fresh_env.db.session() as session:
        assert {a.rung for a in session.scalars(select(Alert))} == {1}
        mails = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")).all()
        assert len(mails) == 2  # one per scheduler run: the leader's two digests
    with fresh_env.db.session() as session:
        assert services.escalation_scan(session, DUE) == 0


@pytest.mark.parametrize("fresh_env", ["postgresql"], indirect=True)
def test_a_scan_while_another_holds_everything_escalates_nothing(fresh_env):
    ids = _world(fresh_env, 3)
    first = fresh_env.db.sessionmaker()
    second = _second_scheduler(fresh_env)
    try:
        assert services.escalation_scan(first, DUE) == 3
        assert services.escalation_scan(second, DUE) == 0
        second.rollback()
        first.commit()
        with fresh_env.db.session() as session:
            assert services.escalation_scan(session, DUE) == 0  # committed: nothing due
    finally:
        first.close()
        second.close()
    assert _steps_per_alert(fresh_env) == dict.fromkeys(ids, 2)
