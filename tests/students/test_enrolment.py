"""Enrolment: enrolled → left | graduated (final), recorded by whoever imports the school's
roster, sealing the record at once; audited; the database refuses any other status."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import CheckConstraint, update
from sqlalchemy.exc import IntegrityError

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.core.states import IllegalTransition
from wellbeing.students import enrolment
from wellbeing.students.models import STUDENT_STATUSES, Student, StudentStatus

from .sealing_world import build


class _Thing:
    status: str = StudentStatus.ACTIVE


@given(st.lists(st.sampled_from(list(StudentStatus)), max_size=8))
def test_a_walk_through_the_table(targets: list[StudentStatus]) -> None:
    thing = _Thing()
    for target in targets:
        before = thing.status
        if STUDENT_STATUSES.allowed(before, target):
            STUDENT_STATUSES.move(thing, target, "status")
            assert thing.status == target
            assert before == StudentStatus.ACTIVE  # only an enrolled student moves
        else:
            with pytest.raises(IllegalTransition):
                STUDENT_STATUSES.move(thing, target, "status")
            assert thing.status == before


def test_the_table_and_the_check_constraint() -> None:
    assert STUDENT_STATUSES.terminal() == {StudentStatus.LEFT, StudentStatus.GRADUATED}
    checks = [c for c in Student.__table__.constraints if isinstance(c, CheckConstraint)]
    [check] = [c for c in checks if "status" in str(c.sqltext)]
    assert all(f"'{s.value}'" in str(check.sqltext) for s in StudentStatus)


def test_the_database_refuses_an_unknown_status(db_session, env):
    world = build(db_session, env.settings, students=1)
    student = world.students[0]
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(update(Student).where(Student.id == student.id).values(status="gone"))


def test_the_administrator_records_a_graduation_and_the_record_is_sealed(
    db_session, env, audit_entries
):
    world = build(db_session, env.settings, students=1)
    student = world.students[0]
    admin = world.principal(db_session, "admin")
    assert not student.sealed
    enrolment.record_leaving(
        db_session, admin, student, StudentStatus.GRADUATED, on=dt.date(2026, 6, 30)
    )
    assert student.status == StudentStatus.GRADUATED and student.sealed
    assert student.left_at == dt.date(2026, 6, 30) and student.sealed_at is not None
    graduated = audit_entries(AuditAction.STUDENT_GRADUATE)
    sealed = audit_entries(AuditAction.RECORD_SEAL)
    assert [e.student_id for e in graduated + sealed] == [student.id, student.id]
    assert graduated[0].detail == {"left_at": "2026-06-30"}
    with pytest.raises(IllegalTransition):  # final: no second leaving, no return
        enrolment.record_leaving(db_session, admin, student, StudentStatus.LEFT)


@pytest.mark.parametrize("role", ["psych_teacher", "school_leader", "counsellor", "supervisor"])
def test_only_the_roster_keeper_records_a_leaver(db_session, env, role):
    world = build(db_session, env.settings, students=1)
    with pytest.raises(Forbidden):
        enrolment.record_leaving(
            db_session, world.principal(db_session, role), world.students[0], StudentStatus.LEFT
        )
    assert world.students[0].status == StudentStatus.ACTIVE


def test_a_future_date_or_enrolled_is_refused(db_session, env):
    world = build(db_session, env.settings, students=1)
    student, admin = world.students[0], world.principal(db_session, "admin")
    with pytest.raises(enrolment.EnrolmentError):
        enrolment.record_leaving(
            db_session, admin, student, StudentStatus.LEFT,
            on=enrolment.school_today() + dt.timedelta(days=2),
        )  # fmt: skip
    with pytest.raises(enrolment.EnrolmentError):
        enrolment.record_leaving(db_session, admin, student, StudentStatus.ACTIVE)
    assert student.status == StudentStatus.ACTIVE and student.left_at is None


def test_leavers_by_student_number_can_be_applied_twice(db_session, env):
    world = build(db_session, env.settings, students=3)
    numbers = [s.student_number for s in world.students[:2]] + ["NO-SUCH-1"]
    admin = world.principal(db_session, "admin")
    first = enrolment.record_leavers(db_session, admin, world.school, numbers, StudentStatus.LEFT)
    assert {s.id for s in first.sealed} == {s.id for s in world.students[:2]}
    assert (first.already, first.unknown) == (0, 1)
    again = enrolment.record_leavers(db_session, admin, world.school, numbers, StudentStatus.LEFT)
    assert (len(again.sealed), again.already, again.unknown) == (0, 2, 1)
    assert world.students[2].status == StudentStatus.ACTIVE


def test_ensure_not_sealed_says_why(db_session, env):
    world = build(db_session, env.settings, students=1)
    student = world.students[0]
    enrolment.ensure_not_sealed(student)  # enrolled: nothing to say
    enrolment.record_leaving(db_session, None, student, StudentStatus.LEFT)
    with pytest.raises(enrolment.RecordSealed) as refused:
        enrolment.ensure_not_sealed(student)
    assert "sealed" in refused.value.message and refused.value.status == 409
