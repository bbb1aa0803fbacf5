"""A sealed record (the student left or graduated): read-only for everyone, closed to school
staff, readable by a district counsellor through break-glass (audited), never writable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from wellbeing.audit.models import BreakGlass
from wellbeing.concerns.models import Concern
from wellbeing.concerns.services import create_concern, mark
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import (
    SEALED_READABLE,
    STUDENT_SCOPED,
    Forbidden,
    Permission,
    Principal,
    can,
)
from wellbeing.crisis.guardian_log import record_guardian_contact
from wellbeing.crisis.models import Crisis
from wellbeing.crisis.services import close_crisis, complete_step
from wellbeing.db import utcnow
from wellbeing.followups.models import FollowUp
from wellbeing.followups.services import complete_followup
from wellbeing.notes.models import CounsellingNote
from wellbeing.notes.services import NoteInput, add_addendum, write_note
from wellbeing.risk.services import apply_tier
from wellbeing.risk.special_care import set_special_care
from wellbeing.students import enrolment
from wellbeing.students.guardians import correct_guardian
from wellbeing.students.models import StudentStatus

from ..conftest import login
from ..factories import PASSWORD
from .sealing_world import World, build, fill_record

ROLES = ("psych_teacher", "class_teacher", "school_leader", "counsellor", "partner",
         "supervisor", "admin")  # fmt: skip


@pytest.fixture
def sealed(db_session, env):  # type: ignore[no-untyped-def]
    world = build(db_session, env.settings, students=1)
    student = world.students[0]
    fill_record(db_session, world, student, grant=False)
    enrolment.record_leaving(db_session, None, student, StudentStatus.LEFT)
    db_session.flush()
    return world


def test_a_sealed_student_refuses_every_student_scoped_permission_to_every_role(db_session, env):
    world = build(db_session, env.settings, students=1)
    student = world.students[0]
    people = {role: world.principal(db_session, role) for role in ROLES}
    before = {(r, p) for r in ROLES for p in STUDENT_SCOPED if can(people[r], p, student)}
    assert ("psych_teacher", "case:record:read") in before  # open while enrolled
    enrolment.record_leaving(db_session, None, student, StudentStatus.GRADUATED)
    after = {(r, p) for r in ROLES for p in STUDENT_SCOPED if can(people[r], p, student)}
    assert after == set()


def _refused(call: Callable[[], Any]) -> None:
    """Refused because of the seal, saying so."""
    with pytest.raises((Forbidden, enrolment.RecordSealed)) as refused:
        call()
    error = refused.value
    if isinstance(error, Forbidden):
        assert error.rule == "sealed_record"
    assert "sealed" in str(error.message)


def _paths(session, world: World) -> dict[str, Callable[[], Any]]:  # type: ignore[no-untyped-def]
    student = world.students[0]
    psych = world.principal(session, "psych_teacher")
    teacher = world.principal(session, "class_teacher")
    note = session.scalars(
        select(CounsellingNote).where(CounsellingNote.student_id == student.id)
    ).first()
    concern = session.scalars(select(Concern).where(Concern.student_id == student.id)).first()
    crisis = session.scalars(select(Crisis).where(Crisis.student_id == student.id)).first()
    followup = session.scalars(select(FollowUp).where(FollowUp.student_id == student.id)).first()
    data = NoteInput(session_date=utcnow().date(), note_type="individual", duration_minutes=20,
                     content="谈话")  # fmt: skip
    return {
        "note": lambda: write_note(session, psych, student, data, sign=True),
        "addendum": lambda: add_addendum(session, psych, note, "补充"),
        "concern": lambda: create_concern(
            session, teacher, student, category="mood", urgency="soon", text="情绪低落"
        ),
        "concern_mark": lambda: mark(session, psych, concern, "seen"),
        "guardian_contact": lambda: record_guardian_contact(
            session,
            psych,
            student,
            relation="father",
            channel="phone",
            contacted_at=utcnow(),
            summary="电话",
        ),
        "crisis_step": lambda: complete_step(session, psych, crisis, "safety_plan", note="计划"),
        "crisis_close": lambda: close_crisis(
            session, psych, crisis, summary="结束", tier=3, confirmed=True
        ),
        "followup": lambda: complete_followup(
            session, psych, followup, outcome="stable", note="好转"
        ),
        "tier": lambda: apply_tier(session, psych, student, 1, source="manual", reason="好转"),
        "special_care": lambda: set_special_care(session, psych, student, ["left_behind"]),
        "guardian": lambda: correct_guardian(
            session, psych, student, 0, name="王芳", phone="13800000000", relation="mother"
        ),
    }


PATHS = ("note", "addendum", "concern", "concern_mark", "guardian_contact", "crisis_step",
         "crisis_close", "followup", "tier", "special_care", "guardian")  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_every_write_path_refuses_a_sealed_record(db_session, sealed, path):
    student = sealed.students[0]
    before = (student.tier, student.guardians, student.special_care)
    _refused(_paths(db_session, sealed)[path])
    assert (student.tier, student.guardians, student.special_care) == before


def test_the_write_check_holds_even_where_the_policy_would_let_a_write_through(db_session, sealed):
    """Belt and braces: a write path reached without the authz check (a system path, a
    principal built by hand) still meets ``ensure_not_sealed``."""
    with pytest.raises(enrolment.RecordSealed):
        enrolment.ensure_not_sealed(sealed.students[0])


def test_school_staff_lose_the_record_over_http(client, db_session, sealed):
    student = sealed.students[0]
    for role in ("psych_teacher", "school_leader", "class_teacher"):
        login(client, sealed.users[role])
        page = client.get(f"/students/{student.id}")
        assert page.status_code == 403, role
    login(client, sealed.users["psych_teacher"])
    assert "sealed" in client.get(f"/students/{student.id}").get_data(as_text=True)
    posted = client.post(f"/students/{student.id}/notes/new", data={
        "session_date": utcnow().date().isoformat(), "note_type": "individual",
        "duration_minutes": "20", "content": "谈话", "sign": "1"})  # fmt: skip
    assert posted.status_code == 403
    assert client.get(f"/break-glass/{student.id}").status_code == 403  # own school: no glass


def test_a_counsellor_reads_a_sealed_record_through_break_glass_only(
    client, db_session, sealed, audit_entries
):
    student, counsellor = sealed.students[0], sealed.users["counsellor"]
    login(client, counsellor)
    assert client.get(f"/students/{student.id}").status_code == 403  # escalated, but sealed
    started = client.post(
        f"/break-glass/{student.id}",
        data={"reason": "监护人来电要求了解孩子在校期间的记录", "password": PASSWORD},
    )
    assert started.status_code == 302
    grant = db_session.scalars(select(BreakGlass).where(BreakGlass.student_id == student.id)).one()
    page = client.get(f"/students/{student.id}")
    assert page.status_code == 200
    viewed = audit_entries(AuditAction.STUDENT_VIEW)[-1]
    assert viewed.student_id == student.id and viewed.break_glass_id == grant.id
    # reading only: the grant opens no write on a sealed record
    principal = Principal(counsellor.id, counsellor.username, (),
                          break_glass_students=frozenset({student.id}))  # fmt: skip
    assert can(principal, Permission.RECORD_READ, student)
    assert not any(can(principal, p, student) for p in STUDENT_SCOPED - SEALED_READABLE)
    posted = client.post(f"/students/{student.id}/notes/new", data={
        "session_date": utcnow().date().isoformat(), "note_type": "individual",
        "duration_minutes": "20", "content": "谈话", "sign": "1"})  # fmt: skip
    assert posted.status_code == 403


def test_a_roster_import_leaves_a_sealed_record_as_it_was(db_session, tmp_path):
    from wellbeing.students.services import import_roster

    from ..factories import make_school
    from .test_roster_import import ROWS, students_of, write_csv

    school = make_school(db_session)
    import_roster(db_session, None, school, write_csv(tmp_path / "r.csv", ROWS), "r.csv")
    li = students_of(db_session, school)["2023002"]
    enrolment.record_leaving(db_session, None, li, StudentStatus.LEFT)
    before = (li.name_ct, li.class_id, li.guardians_ct)
    changed = [row[:] for row in ROWS]
    changed[1][1], changed[1][5], changed[1][8] = "李华华", "1班", "13700137000"
    result = import_roster(
        db_session, None, school, write_csv(tmp_path / "c.csv", changed), "c.csv"
    )
    assert (result.updated, result.unchanged) == (0, 3)
    li = students_of(db_session, school)["2023002"]
    assert (li.name_ct, li.class_id, li.guardians_ct) == before and li.name == "李华"
