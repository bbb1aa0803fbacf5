"""The bulk subscribers together: ``emit_many`` of TIER_CHANGED writes what one ``emit`` per
student writes (alerts, crises, follow-ups, proposed plans), and a screening import with the
subscribers attached raises them for the whole file at once."""

from __future__ import annotations

from functools import partial

import time_machine
from sqlalchemy import func, select

from wellbeing.alerts.models import Alert
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.crisis.models import Crisis
from wellbeing.followups.models import OPEN, FollowUp
from wellbeing.notify.models import OutboxMessage
from wellbeing.risk.bulk import with_loaded_students
from wellbeing.risk.events import TIER_CHANGED
from wellbeing.screening.intake.importer import import_file

from ..factories import make_user
from ..plans.conftest import plans_snapshot
from ..screening.helpers import GAD, PHQ, gad, open_campaign, phq, school_with_students, write_csv
from .bulk_world import (
    NOW,
    alerts_snapshot,
    build_world,
    crises_snapshot,
    decide,
    followups_snapshot,
    rolled_back,
)


def _snapshot(session):  # type: ignore[no-untyped-def]
    return (
        alerts_snapshot(session), crises_snapshot(session), followups_snapshot(session),
        plans_snapshot(session),
    )  # fmt: skip


def test_emit_many_equals_one_emit_per_student(db_session, env):
    w = build_world(db_session, env.settings)
    s, o = w.students, w.others
    decisions = decide(db_session, [(s[0], 0, 3), (s[1], 1, 2), (s[2], 2, 3), (o[0], 0, 3), (o[1], 0, 1)])  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        with rolled_back(db_session):
            for change in with_loaded_students(db_session, decisions):
                TIER_CHANGED.emit(db_session, change)
            one_by_one = _snapshot(db_session)
        TIER_CHANGED.emit_many(db_session, decisions, partial(with_loaded_students, db_session))
        in_bulk = _snapshot(db_session)
    assert in_bulk == one_by_one
    alerts, crises, followups, plans = in_bulk
    assert (len(alerts), len(crises), len(followups), len(plans)) == (3, 3, 3, 4)


def test_a_screening_import_raises_alerts_crises_and_follow_ups_once_for_the_file(
    db_session, env, tmp_path, audit_entries
):
    school, _klass, students = school_with_students(db_session, 4)
    psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    psych.email, psych.locale = "psych@school.example", "en"
    campaign = open_campaign(db_session, [school])
    rows = [
        [students[0].student_number, *phq(2), *gad(1)],  # green
        [students[1].student_number, *phq(11), *gad(3)],  # yellow
        [students[2].student_number, *phq(3, item9=1), *gad(0)],  # red and critical
        [students[3].student_number, *phq(3, item9=2), *gad(0)],  # red and critical
    ]
    path = write_csv(tmp_path / "r.csv", ["student_number", *PHQ, *GAD], rows)
    report = import_file(db_session, None, campaign, path)
    assert report.ok, report.errors
    alerts = db_session.scalars(select(Alert)).all()
    # The red tier and the critical item of one student are one call for help.
    assert sorted((a.student_id, a.kind) for a in alerts) == sorted(
        [(students[2].id, "red_tier"), (students[3].id, "red_tier")]
    )
    assert {c.student_id for c in db_session.scalars(select(Crisis))} == {
        students[2].id,
        students[3].id,
    }
    cadence = {
        f.student_id: f.owner_id
        for f in db_session.scalars(select(FollowUp).where(FollowUp.state == OPEN))
    }
    assert cadence == {students[1].id: psych.id, students[2].id: psych.id, students[3].id: psych.id}
    [mail] = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")).all()
    assert mail.user_id == psych.id and mail.body.startswith("2 students at your school")
    assert [e.detail["alerts"] for e in audit_entries(AuditAction.ALERT_CREATE)] == [2]


def test_a_dry_run_raises_nothing(db_session, tmp_path):
    school, _klass, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    path = write_csv(
        tmp_path / "r.csv", ["student_number", *PHQ, *GAD],
        [[students[0].student_number, *phq(3, item9=1), *gad(0)]],
    )  # fmt: skip
    report = import_file(db_session, None, campaign, path, dry_run=True)
    assert report.ok and report.tiers[3] == 1
    for model in (Alert, Crisis, FollowUp):
        assert db_session.scalar(select(func.count()).select_from(model)) == 0
