"""Transfers (issue 14 item 8): the move and what follows it, the page, roster recognition, and
the sending school's read period (its own writings for 30 days, then 403)."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

import wellbeing.plans.transfer  # noqa: F401  # the plans subscriber (plans/services.py imports it)
from wellbeing.alerts.models import Alert, AlertInbox
from wellbeing.auth.services import build_principal
from wellbeing.concerns.services import create_concern
from wellbeing.core import audit
from wellbeing.core.authz import Permission, can
from wellbeing.crisis.models import Crisis, CrisisState
from wellbeing.db import utcnow
from wellbeing.followups.models import FollowUp
from wellbeing.notes.services import NoteInput, write_note
from wellbeing.orgs.models import District, School
from wellbeing.plans.models import Plan, PlanState, PlanTask, TaskState
from wellbeing.students import services as student_services
from wellbeing.students import transfer
from wellbeing.students.models import Student, StudentTransfer

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user, staff_set


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    old, new = make_school(db_session, name="第一中学"), make_school(db_session, name="第二中学")
    staff = staff_set(db_session, env.settings, old)
    receiving = make_user(db_session, env.settings, "psych_teacher", school=new)
    receiving.display_name = "接收老师"
    student = make_student(db_session, old, student_number="T100", name="转学生")
    db_session.flush()
    return {"old": old, "new": new, "staff": staff, "receiving": receiving, "student": student,
            "session": db_session, "env": env}  # fmt: skip


def _principal(w, user):  # type: ignore[no-untyped-def]
    return build_principal(w["session"], user)


def _note(w, user, content):  # type: ignore[no-untyped-def]
    data = NoteInput(session_date=utcnow().date(), note_type="individual", duration_minutes=30,
                     content=content)  # fmt: skip
    return write_note(w["session"], _principal(w, user), w["student"], data, sign=True)


def _move(w, **kwargs):  # type: ignore[no-untyped-def]
    counsellor = _principal(w, w["staff"]["counsellor"])
    return transfer.transfer_student(w["session"], counsellor, w["student"], w["new"].id, **kwargs)


# --------------------------------------------------------------------------- the move


def test_a_move_hands_over_what_is_open_and_alerts_the_receiving_school(world, audit_entries):
    w, session = world, world["session"]
    student = w["student"]
    psych = w["staff"]["psych_teacher"]
    crisis = Crisis(student_id=student.id, school_id=w["old"].id, state=CrisisState.OPEN,
                    opened_at=utcnow())  # fmt: skip
    closed = Crisis(student_id=student.id, school_id=w["old"].id, state=CrisisState.CLOSED,
                    opened_at=utcnow(), closed_at=utcnow(), closed_by_id=psych.id)  # fmt: skip
    followup = FollowUp(student_id=student.id, school_id=w["old"].id, owner_id=psych.id,
                        due_at=utcnow() + dt.timedelta(days=3), source="manual", state="open")  # fmt: skip
    plan = Plan(student_id=student.id, school_id=w["old"].id, state=PlanState.ACTIVE)
    session.add_all([crisis, closed, followup, plan])
    session.flush()
    task = PlanTask(student_id=student.id, school_id=w["old"].id, plan_id=plan.id,
                    kind="plan_action", state=TaskState.OPEN, due_date=utcnow().date())  # fmt: skip
    task.title = "每周谈话"
    session.add(task)
    klass = make_class(session, w["new"], grade=8)
    session.flush()

    outcome = _move(w, class_id=klass.id)

    assert (student.school_id, student.class_id, student.grade) == (w["new"].id, klass.id, 8)
    session.flush()
    session.expire_all()
    assert crisis.school_id == w["new"].id  # crisis subscriber
    assert closed.school_id == w["old"].id  # history stays with the school that wrote it
    assert followup.school_id == w["new"].id  # follow-ups subscriber
    assert plan.school_id == w["new"].id and task.school_id == w["new"].id  # plans subscriber
    row = session.scalars(select(StudentTransfer)).one()
    assert (row.from_school_id, row.to_school_id, row.source) == (w["old"].id, w["new"].id,
                                                                  "manual")  # fmt: skip
    assert row.by_id == w["staff"]["counsellor"].id
    assert abs(row.read_until - row.created_at - dt.timedelta(days=30)) < dt.timedelta(seconds=1)
    alert = session.scalars(select(Alert).where(Alert.kind == "student_transferred_in")).one()
    assert (alert.school_id, alert.student_id, alert.source_id) == (w["new"].id, student.id, row.id)
    inbox = session.scalars(select(AlertInbox.user_id).where(AlertInbox.alert_id == alert.id)).all()
    assert w["receiving"].id in inbox and psych.id not in inbox
    assert outcome.alerted == ["接收老师"]
    entry = audit_entries(audit.AuditAction.STUDENT_TRANSFER)[-1]
    assert entry.student_id == student.id
    assert entry.detail["source"] == "manual" and entry.detail["alerted"] == 1
    # The blind indexes follow the school: the new school finds the student by number.
    assert transfer.find_student(session, w["new"].id, "T100") is student
    assert transfer.find_student(session, w["old"].id, "T100") is None


def test_the_read_period_comes_from_the_district_policy(world):
    w = world
    transfer.read_days_from(lambda session, student: 7)
    try:
        outcome = _move(w)
    finally:
        from wellbeing.risk import services as risk_services

        transfer.read_days_from(risk_services._transfer_read_days)
    assert outcome.transfer.read_until - outcome.transfer.created_at == dt.timedelta(days=7)


def test_refusals(world, db_session):
    w = world
    elsewhere = District(code="other-district", name="另一个区")
    db_session.add(elsewhere)
    db_session.flush()
    far = School(district_id=elsewhere.id, code="far1", name="外区学校")
    db_session.add(far)
    db_session.flush()
    counsellor = _principal(w, w["staff"]["counsellor"])
    with pytest.raises(transfer.TransferError, match="district"):
        transfer.transfer_student(db_session, counsellor, w["student"], far.id)
    with pytest.raises(transfer.TransferError, match="already at"):
        transfer.transfer_student(db_session, counsellor, w["student"], w["old"].id)
    wrong_class = make_class(db_session, w["old"])
    with pytest.raises(transfer.TransferError, match="not a class of"):
        _move(w, class_id=wrong_class.id)
    make_student(db_session, w["new"], student_number="T100")
    with pytest.raises(transfer.TransferError, match="already has a student"):
        _move(w)
    gone = make_student(db_session, w["old"], student_number="T101")
    gone.status = "left"
    db_session.flush()
    with pytest.raises(transfer.TransferError, match="still at school"):
        transfer.transfer_student(db_session, counsellor, gone, w["new"].id)
    assert w["student"].school_id == w["old"].id
    assert db_session.scalars(select(StudentTransfer)).all() == []


@pytest.mark.parametrize("role", ["psych_teacher", "school_leader", "class_teacher"])
def test_school_staff_may_not_move_students(world, role):
    from wellbeing.core.authz import Forbidden

    w = world
    with pytest.raises(Forbidden):
        transfer.transfer_student(w["session"], _principal(w, w["staff"][role]), w["student"],
                                  w["new"].id)  # fmt: skip


# --------------------------------------------------------------------------- the page


def _post(client, w, **overrides):  # type: ignore[no-untyped-def]
    data = {"from_school": str(w["old"].id), "student_number": "T100",
            "to_school": str(w["new"].id), "class_id": ""}  # fmt: skip
    data.update(overrides)
    return client.post("/students/transfer", data=data)


@pytest.mark.parametrize("role", ["admin", "counsellor"])
def test_the_page_moves_and_says_exactly_what_happened(client, world, role):
    w = world
    login(client, w["staff"][role])
    response = _post(client, w)
    assert response.status_code == 302, response.get_data(as_text=True)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    row = w["session"].scalars(select(StudentTransfer)).one()
    zone = ZoneInfo(w["env"].settings.timezone)  # the date as the school reads it
    until = row.read_until.astimezone(zone).date().isoformat()
    for text in ("T100", "第一中学", "第二中学", "接收老师", until):
        assert text in html, text
    w["session"].expire_all()
    assert w["student"].school_id == w["new"].id


@pytest.mark.parametrize("role", ["psych_teacher", "school_leader", "class_teacher"])
def test_the_page_is_refused_to_school_staff(client, world, role):
    login(client, world["staff"][role])
    assert _post(client, world).status_code == 403
    assert client.get("/students/transfer").status_code == 403


def test_the_page_refuses_another_district_with_a_clear_message(client, world, db_session):
    elsewhere = District(code="other-district", name="另一个区")
    db_session.add(elsewhere)
    db_session.flush()
    far = School(district_id=elsewhere.id, code="far2", name="外区学校")
    db_session.add(far)
    db_session.flush()
    login(client, world["staff"]["admin"])
    response = _post(client, world, to_school=str(far.id))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "外区学校" in html and "flash-error" in html
    db_session.expire_all()
    assert world["student"].school_id == world["old"].id


# --------------------------------------------------------------------------- sending school


def _reading_world(w):  # type: ignore[no-untyped-def]
    """Notes and concerns written at the old school, the move, then the new school's own."""
    old_psych = w["staff"]["psych_teacher"]
    mine = _note(w, old_psych, "旧校记录")
    concern = create_concern(w["session"], _principal(w, old_psych), w["student"],
                             category="mood", urgency="routine", text="旧校关注")  # fmt: skip
    _move(w)
    theirs = _note(w, w["receiving"], "新校记录")
    their_concern = create_concern(w["session"], _principal(w, w["receiving"]), w["student"],
                                   category="mood", urgency="routine", text="新校关注")  # fmt: skip
    w["session"].flush()
    return mine, theirs, concern, their_concern


def test_the_old_school_reads_only_what_it_wrote_for_30_days_then_403(client, world):
    w = world
    mine, theirs, concern, their_concern = _reading_world(w)
    student = w["student"]
    for role in ("psych_teacher", "school_leader"):
        login(client, w["staff"][role])
        record = client.get(f"/students/{student.id}")
        assert record.status_code == 200
        page = record.get_data(as_text=True)
        assert 'data-testid="transfer-reader"' in page
        timeline = client.get(f"/students/{student.id}/timeline").get_data(as_text=True)
        assert timeline.count('data-kind="note"') == 1
        assert timeline.count('data-kind="concern"') == 1
        assert f"/notes/{mine.id}" in timeline and f"/notes/{theirs.id}" not in timeline
        assert f"/concerns/{concern.id}" in timeline
        assert f"/concerns/{their_concern.id}" not in timeline
        assert 'data-kind="alert"' not in timeline  # the receiving school's alert
        assert client.get(f"/notes/{mine.id}").status_code == 200
        assert client.get(f"/notes/{theirs.id}").status_code == 404
        assert client.get(f"/concerns/{concern.id}").status_code == 200
        assert client.get(f"/concerns/{their_concern.id}").status_code == 403
        listing = client.get("/students/moved-away").get_data(as_text=True)
        assert f"/students/{student.id}" in listing
    # The class teacher of the old school never read records, and does not now.
    login(client, w["staff"]["class_teacher"])
    assert client.get(f"/students/{student.id}").status_code == 403
    # The receiving school reads everything, both schools' notes included.
    login(client, w["receiving"])
    timeline = client.get(f"/students/{student.id}/timeline").get_data(as_text=True)
    assert f"/notes/{mine.id}" in timeline and f"/notes/{theirs.id}" in timeline

    with time_machine.travel(utcnow() + dt.timedelta(days=29), tick=False):
        login(client, w["staff"]["psych_teacher"])
        assert client.get(f"/students/{student.id}").status_code == 200
    with time_machine.travel(utcnow() + dt.timedelta(days=30, minutes=1), tick=False):
        login(client, w["staff"]["psych_teacher"])
        assert client.get(f"/students/{student.id}").status_code == 403
        assert client.get(f"/students/{student.id}/timeline").status_code == 403
        assert client.get(f"/notes/{mine.id}").status_code == 403
        assert client.get(f"/concerns/{concern.id}").status_code == 403
        listing = client.get("/students/moved-away").get_data(as_text=True)
        assert f"/students/{student.id}" not in listing


def test_the_rule_grants_reading_only(world):
    w = world
    _move(w)
    psych = _principal(w, w["staff"]["psych_teacher"])
    student = w["student"]
    assert can(psych, Permission.RECORD_READ, student)
    assert can(psych, Permission.NOTES_READ, student)
    for permission in (Permission.RECORD_WRITE, Permission.NOTES_WRITE, Permission.PLANS_READ,
                       Permission.SCREENING_READ, Permission.CRISIS_MANAGE,
                       Permission.ALERTS_HANDLE, Permission.TIER_DECIDE):  # fmt: skip
        assert not can(psych, permission, student), permission
    assert transfer.reading_school(psych, student) == w["old"].id
    receiving = _principal(w, w["receiving"])
    assert transfer.reading_school(receiving, student) is None


# --------------------------------------------------------------------------- roster imports


def _school_of(session, student):  # type: ignore[no-untyped-def]
    """From the database: a roster import detaches the students it loaded."""
    return session.scalar(select(Student.school_id).where(Student.id == student.id))


def _roster(*rows: str) -> io.BytesIO:
    return io.BytesIO(("学号,姓名,性别,出生日期,年级,班级\n" + "".join(rows)).encode())


def test_a_roster_import_recognises_a_student_of_another_school(world, db_session):
    w = world
    student = w["student"]
    other = make_student(db_session, w["old"], student_number="T200", name="同号不同人")
    row = "T100,转学生,女,2012-05-01,8,3班\n"
    stranger = "T200,另一个人,男,2012-05-01,8,3班\n"  # same number, another name: a new student
    result = student_services.import_roster(
        db_session, None, w["new"], _roster(row, stranger), "roster.csv"
    )
    assert result.ok, result.errors
    assert (result.transferred_in, result.created, result.transfer_skipped) == (1, 1, 0)
    assert _school_of(db_session, student) == w["new"].id
    assert db_session.scalar(select(Student.grade).where(Student.id == student.id)) == 8
    assert _school_of(db_session, other) == w["old"].id
    moved = db_session.scalars(select(StudentTransfer)).one()
    assert (moved.source, moved.by_id) == ("roster", None)
    assert db_session.scalars(select(Alert).where(Alert.kind == "student_transferred_in")).one()
    # The old school's stale roster neither moves the student back nor makes a duplicate.
    again = student_services.import_roster(db_session, None, w["old"], _roster(row), "old.csv")
    assert again.ok, again.errors
    assert (again.transferred_in, again.created, again.transfer_skipped) == (0, 0, 1)
    assert _school_of(db_session, student) == w["new"].id
    # Imported again at the new school: an ordinary update, no second transfer.
    third = student_services.import_roster(db_session, None, w["new"], _roster(row), "new.csv")
    assert (third.transferred_in, third.created, third.unchanged) == (0, 0, 1)


def test_a_dry_run_moves_nobody_but_counts(world, db_session):
    w = world
    row = "T100,转学生,女,2012-05-01,7,1班\n"
    result = student_services.import_roster(
        db_session, None, w["new"], _roster(row), "roster.csv", dry_run=True
    )
    assert result.ok and result.transferred_in == 1
    assert _school_of(db_session, w["student"]) == w["old"].id
    assert db_session.scalars(select(StudentTransfer)).all() == []


def test_a_different_birth_date_is_not_the_same_student(world, db_session):
    w = world
    row = "T100,转学生,女,2011-01-01,7,1班\n"
    result = student_services.import_roster(db_session, None, w["new"], _roster(row), "r.csv")
    assert (result.transferred_in, result.created) == (0, 1)
    assert _school_of(db_session, w["student"]) == w["old"].id
