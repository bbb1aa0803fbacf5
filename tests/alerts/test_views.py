"""The inbox, the detail page, acknowledge/resolve through the web, the navigation count."""

from __future__ import annotations

from sqlalchemy import select

from wellbeing.alerts.models import Alert
from wellbeing.alerts.services import escalation_scan, raise_alert
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.db import utcnow

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user


def _world(db_session, env):
    school = make_school(db_session)
    klass = make_class(db_session, school)
    psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    counsellor = make_user(db_session, env.settings, Role.COUNSELLOR)
    student = make_student(db_session, school, klass, name="李小红")
    alert = raise_alert(
        db_session, kind="urgent_concern", school_id=school.id, student_id=student.id, tier=3
    )
    db_session.flush()
    return school, psych, counsellor, student, alert


def test_inbox_lists_with_name_for_case_access_and_audits_the_page(
    client, db_session, env, audit_entries
):
    school, psych, _counsellor, student, alert = _world(db_session, env)
    login(client, psych)
    html = client.get("/alerts").get_data(as_text=True)
    assert "李小红" in html and "Urgent concern" in html and school.name in html
    assert 'data-testid="inbox-count"' in html and ">1</span>" in html  # nav count
    entry = audit_entries(AuditAction.ALERT_LIST)[-1]
    assert entry.detail["students"] == [str(student.id)] and entry.detail["alerts"] == [
        str(alert.id)
    ]
    # What the inbox shows of the student: the chip's name, class and tier badge (issue 13, B.5).
    assert entry.fields == ["student.class", "student.name", "student.tier"]


def test_counsellor_sees_the_alert_without_the_name_until_district_involved(
    client, db_session, env
):
    _school, _psych, counsellor, _student, alert = _world(db_session, env)
    escalation_scan(db_session, utcnow() + __import__("datetime").timedelta(hours=3))
    login(client, counsellor)
    html = client.get("/alerts").get_data(as_text=True)
    assert f"/alerts/{alert.id}" in html and "李小红" not in html
    detail = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "李小红" not in detail and "District counsellor" in detail


def test_acknowledge_then_resolve_through_the_web(client, db_session, env, audit_entries):
    _school, psych, _counsellor, _student, alert = _world(db_session, env)
    login(client, psych)
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert 'data-testid="acknowledge"' in page and "李小红" in page
    assert audit_entries(AuditAction.ALERT_VIEW)[-1].object_id == str(alert.id)

    response = client.post(f"/alerts/{alert.id}/resolve", data={"note": "too early"})
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Alert, alert.id).state == "open"  # resolving needs acknowledging first

    assert client.post(f"/alerts/{alert.id}/acknowledge").status_code == 302
    db_session.expire_all()
    assert db_session.get(Alert, alert.id).state == "acknowledged"
    assert client.post(f"/alerts/{alert.id}/acknowledge", csrf=False).status_code == 400

    response = client.post(f"/alerts/{alert.id}/resolve", data={"note": ""})
    db_session.expire_all()
    assert response.status_code == 302 and db_session.get(Alert, alert.id).state == "acknowledged"

    client.post(f"/alerts/{alert.id}/resolve", data={"note": "Guardian came in; referral made."})
    db_session.expire_all()
    row = db_session.get(Alert, alert.id)
    assert row.state == "resolved" and row.resolved_by_id == psych.id
    detail = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "Guardian came in; referral made." in detail
    assert audit_entries(AuditAction.ALERT_VIEW)[-1].fields == ["resolution_note", "student.name"]
    home = client.get("/alerts").get_data(as_text=True)
    assert 'data-testid="inbox-count"' not in home  # nothing open any more
    assert "李小红" in client.get("/alerts?state=resolved").get_data(as_text=True)
    assert db_session.scalars(select(Alert).where(Alert.id == alert.id)).one().dedupe_key is None
