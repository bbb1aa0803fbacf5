"""The tier page, the step-down queue, special care and the policy editor through HTTP."""

from __future__ import annotations

from wellbeing.core.audit import AuditAction
from wellbeing.risk.services import apply_tier, get_special_care

from ..conftest import login
from ..factories import make_school, make_student, staff_set


def _setup(db_session, env):
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    for user in users.values():  # assertions below read English messages
        user.locale = "en"
    student = make_student(db_session, school, name="王小明")
    return school, users, student


def test_tier_page_shows_history_and_audits(client, db_session, env, audit_entries):
    _school, users, student = _setup(db_session, env)
    apply_tier(db_session, None, student, 2, source="screening", reason="phq9.total>=15")
    login(client, users["psych_teacher"])
    page = client.get(f"/students/{student.id}/tier")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "王小明" in html and 'data-testid="tier-history"' in html
    # a rule's reason token is a code: the page shows a label, never the token itself
    assert "phq9.total" not in html and '<td class="risk-reason">Screening</td>' in html
    views = audit_entries(AuditAction.TIER_VIEW)
    assert views and views[-1].student_id == student.id
    assert "special_care" in views[-1].fields


def test_set_tier_requires_reason(client, db_session, env):
    _school, users, student = _setup(db_session, env)
    login(client, users["psych_teacher"])
    page = client.post(f"/students/{student.id}/tier", data={"tier": "2", "reason": ""})
    assert page.status_code == 200
    assert "Write the reason for this decision." in page.get_data(as_text=True)
    db_session.refresh(student)
    assert student.tier == 0


def test_stepdown_flow_over_http(client, db_session, env, audit_entries):
    _school, users, student = _setup(db_session, env)
    login(client, users["psych_teacher"])
    r = client.post(
        f"/students/{student.id}/tier", data={"tier": "3", "reason": "disclosed a plan"}
    )
    assert r.status_code == 302
    db_session.refresh(student)
    assert student.tier == 3 and student.district_involved
    r = client.post(
        f"/students/{student.id}/tier", data={"tier": "1", "reason": "safety plan holds"}
    )
    assert r.status_code == 302
    db_session.refresh(student)
    assert student.tier == 3
    page = client.get(f"/students/{student.id}/tier").get_data(as_text=True)
    assert 'data-testid="stepdown-pending"' in page and "Withdraw request" in page
    assert 'data-testid="approve-stepdown"' not in page  # not the requester's to approve

    login(client, users["school_leader"])
    queue = client.get("/tier/stepdowns")
    html = queue.get_data(as_text=True)
    assert queue.status_code == 200 and "王小明" in html and "safety plan holds" in html
    listed = [e for e in audit_entries(AuditAction.TIER_VIEW) if e.object_type == "stepdown_queue"]
    assert listed[-1].detail == {"students": [str(student.id)]}
    decision_id = html.split("/tier/stepdowns/")[1].split("/")[0]
    # the student's crisis is open: the approver says what happens to it
    r = client.post(f"/tier/stepdowns/{decision_id}/approve", data={"crisis": "keep_open"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/tier/stepdowns")
    db_session.refresh(student)
    assert student.tier == 1
    assert "No step-downs are waiting" in client.get("/tier/stepdowns").get_data(as_text=True)


def test_special_care_over_http(client, db_session, env, audit_entries):
    _school, users, student = _setup(db_session, env)
    login(client, users["psych_teacher"])
    r = client.post(
        f"/students/{student.id}/special-care", data={"categories": ["left_behind", "disability"]}
    )
    assert r.status_code == 302
    db_session.refresh(student)
    assert get_special_care(student) == ["left_behind", "disability"]
    html = client.get(f"/students/{student.id}/tier").get_data(as_text=True)
    assert "留守儿童" in html or "Left-behind child" in html
    r = client.post(f"/students/{student.id}/special-care", data={"categories": ["bogus"]})
    assert r.status_code == 302
    db_session.refresh(student)
    assert get_special_care(student) == ["left_behind", "disability"]
    changes = audit_entries(AuditAction.SPECIAL_CARE_CHANGE)
    assert [e.detail for e in changes] == [{"count": 2}]


def test_record_section_on_student_page(client, db_session, env):
    _school, users, student = _setup(db_session, env)
    apply_tier(db_session, None, student, 1, source="concern")
    login(client, users["psych_teacher"])
    client.post(f"/students/{student.id}/special-care", data={"categories": ["bereavement"]})
    page = client.get(f"/students/{student.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="record-tier"' in html and f"/students/{student.id}/tier" in html
    assert "丧亲" in html or "Bereavement" in html
    login(client, users["school_leader"])  # reads the record, no special-care access
    html = client.get(f"/students/{student.id}").get_data(as_text=True)
    assert 'data-testid="record-tier"' in html
    assert "丧亲" not in html and "Bereavement" not in html
