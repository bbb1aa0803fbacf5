"""Shared set-up for counselling-note tests: a school with one user of each role, a second
psychology teacher of the same school, and a student."""

from __future__ import annotations

import datetime as dt

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.notes.services import NoteInput

from ..factories import make_school, make_student, make_user, staff_set

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def notes_world(session, settings):  # type: ignore[no-untyped-def]
    school = make_school(session)
    staff = staff_set(session, settings, school)
    staff["other_psych"] = make_user(session, settings, Role.PSYCH_TEACHER, school=school)
    class_id = next(m.class_id for m in staff["class_teacher"].memberships)
    from wellbeing.orgs.models import SchoolClass

    student = make_student(session, school, session.get(SchoolClass, class_id))
    student.district_involved = True  # the counsellor's scope
    session.flush()
    return school, staff, student


def principal(session, user):  # type: ignore[no-untyped-def]
    return build_principal(session, user)


def note_input(**overrides):  # type: ignore[no-untyped-def]
    values = dict(session_date=NOW.date(), note_type="individual", duration_minutes=40,
                  content="谈话：学生说最近睡不好，考试压力大。")  # fmt: skip
    values.update(overrides)
    return NoteInput(**values)
