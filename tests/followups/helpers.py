"""Shared set-up for follow-up tests."""

from __future__ import annotations

import datetime as dt

from wellbeing.auth.services import build_principal

from ..factories import make_school, make_student, staff_set

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai, a Monday


def school_world(session, settings):  # type: ignore[no-untyped-def]
    school = make_school(session)
    staff = staff_set(session, settings, school)
    student = make_student(session, school)
    session.flush()
    return school, staff, student


def principal(session, user):  # type: ignore[no-untyped-def]
    return build_principal(session, user)
