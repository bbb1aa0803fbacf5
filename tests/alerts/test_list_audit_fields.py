"""A list page's audit entry names what the page shows of each student (issue 13, B.5): the
student chip shows the name, school, class and tier badge to someone who may open the record,
the name alone to others."""

from __future__ import annotations

import re

from wellbeing.alerts.services import raise_alert
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.students.chip import chip_fields

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user


def test_the_inbox_audits_the_chip_it_shows(client, db_session, env, audit_entries):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    klass = make_class(db_session, school, grade=10)
    psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    student = make_student(db_session, school, klass, name="赵小雨")
    raise_alert(
        db_session, kind="urgent_concern", school_id=school.id, student_id=student.id, tier=3
    )
    db_session.flush()
    login(client, psych)
    html = client.get("/alerts").get_data(as_text=True)
    chip = re.search(r'<span class="student-chip">.*?</td>', html, re.S)
    assert chip is not None
    shown = chip.group(0)
    assert "赵小雨" in shown and 'class="class-name"' in shown and "tier-badge" in shown
    assert 'class="chip-school"' not in shown  # the inbox has a school column instead
    entry = audit_entries(AuditAction.ALERT_LIST)[-1]
    assert entry.fields == ["student.class", "student.name", "student.tier"]


def test_an_empty_inbox_audits_no_student_field(client, db_session, env, audit_entries):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, psych)
    client.get("/alerts")
    assert audit_entries(AuditAction.ALERT_LIST)[-1].fields == []


def test_chip_fields_follow_the_chip(db_session, env):  # type: ignore[no-untyped-def]
    from wellbeing.auth.services import build_principal

    school, other = make_school(db_session), make_school(db_session)
    student = make_student(db_session, school, make_class(db_session, school))
    psych = build_principal(
        db_session, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    )
    stranger = build_principal(
        db_session, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=other)
    )
    assert chip_fields(psych, [student]) == ["name", "school", "class", "tier"]
    assert chip_fields(psych, [student], school=False, tier=False) == ["name", "class"]
    assert chip_fields(stranger, [student]) == ["name"]  # plain text: the name alone
    assert chip_fields(psych, []) == []
    assert chip_fields(psych, [student], prefix="student.")[0] == "student.name"
