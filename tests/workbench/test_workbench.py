"""The workbench through HTTP, per role: which panels each role sees (and not), the counts
scoped to the person's schools, rows linking to the items; the caseload and the class list;
the grouped menu."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from wellbeing.alerts.models import Alert, AlertInbox, AlertState, AlertStep
from wellbeing.concerns.models import Concern, ConcernState
from wellbeing.core.audit import AuditAction
from wellbeing.core.audit_models import AuditEntry
from wellbeing.crisis.models import Crisis, CrisisState
from wellbeing.db import utcnow
from wellbeing.followups.models import OPEN, FollowUp
from wellbeing.risk.models import PENDING, TierDecision

from ..authz import World, build_world
from ..conftest import login
from ..factories import make_student


def _count(html: str, key: str) -> int | None:
    found = re.search(rf'data-testid="count-{key}">(\d+)<', html)
    return int(found[1]) if found else None


def _panels(html: str) -> set[str]:
    return set(re.findall(r'data-testid="panel-([a-z_]+)"', html))


def _concern(world: World, student, reporter, state=ConcernState.NEW) -> Concern:  # type: ignore[no-untyped-def]
    concern = Concern(
        school_id=student.school_id, student_id=student.id, reporter_id=reporter.id,
        urgency="soon", state=state, category="mood", text="seems withdrawn",
    )  # fmt: skip
    world.session.add(concern)
    return concern


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    """Work for the own school's people, and the same at another school (never counted)."""
    w = build_world(db_session, env.settings)
    now = utcnow()
    psych, teacher = w.users["psych_teacher"], w.users["class_teacher"]
    red = make_student(db_session, w.own_school, name="王小明", tier=3)
    db_session.flush()
    for student in (w.own_student, w.other_student):
        db_session.add(Crisis(student_id=student.id, school_id=student.school_id,
                              state=CrisisState.OPEN, opened_at=now - dt.timedelta(hours=2)))  # fmt: skip
        _concern(w, student, teacher if student is w.own_student else psych)
    alert = Alert(kind="red_tier", district_id=w.own_school.district_id, school_id=red.school_id,
                  student_id=red.id, tier=3, state=AlertState.OPEN, due_at=now - dt.timedelta(minutes=5))  # fmt: skip
    db_session.add(alert)
    db_session.flush()
    for role in ("psych_teacher", "school_leader"):
        db_session.add(AlertInbox(alert_id=alert.id, user_id=w.users[role].id, added_at=now))
    w.own_student.tier, w.own_student.tier_provisional = 2, True
    db_session.add_all([
        FollowUp(student_id=red.id, school_id=red.school_id, owner_id=psych.id,
                 due_at=now - dt.timedelta(days=1), source="manual", state=OPEN),
        FollowUp(student_id=red.id, school_id=red.school_id, owner_id=psych.id,
                 due_at=now + dt.timedelta(days=20), source="manual", state=OPEN),
        TierDecision(student_id=red.id, school_id=red.school_id, from_tier=3, to_tier=2,
                     source="manual", kind="stepdown", state=PENDING, decided_by=psych.id),
    ])  # fmt: skip
    db_session.flush()
    w.extra.update(red=red, alert=alert)
    return w


def _home(client, world: World, role: str) -> str:  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        sess.clear()
    login(client, world.users[role])
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_psych_teacher_sees_today_s_work_of_their_school(client, world):
    html = _home(client, world, "psych_teacher")
    assert _panels(html) == {"alerts", "crises", "review", "concerns", "followups"}
    # Only the own school's crisis and concern; the other school's are not counted.
    assert _count(html, "crises") == 1 and _count(html, "concerns") == 1
    assert _count(html, "alerts") == 1 and _count(html, "review") == 1
    assert _count(html, "followups") == 1  # the overdue one; the one in 20 days is not today's
    assert f"/alerts/{world.extra['alert'].id}" in html
    # The student chip links the name to the record for someone who may read it.
    assert f"/students/{world.extra['red'].id}" in html and "王小明" in html
    assert world.other_student.name not in html


def test_class_teacher_sees_their_reports_and_tasks_and_no_case_panels(client, world):
    html = _home(client, world, "class_teacher")
    assert _panels(html) == {"my_reports", "followups"}
    assert _count(html, "my_reports") == 1
    # Names of their own class's student as plain text: no link into a record they cannot read.
    assert world.own_student.name in html
    assert f"/students/{world.own_student.id}" not in html


def test_school_leader_sees_escalations_and_sign_offs(client, world):
    html = _home(client, world, "school_leader")
    assert _panels(html) == {"alerts", "signoffs", "crises", "followups"}
    assert _count(html, "signoffs") == 1 and _count(html, "alerts") == 1


def test_counsellor_sees_the_district_queue_without_names_they_may_not_read(
    client, world, db_session
):
    # The alert reached the district's rung, but the student is not involved with the district:
    # the counsellor sees the alert in the queue, not the student's name.
    alert = world.extra["alert"]
    db_session.add(
        AlertStep(alert_id=alert.id, rung=2, role="counsellor", step="escalate", at=utcnow())
    )
    db_session.flush()
    html = _home(client, world, "counsellor")
    assert {"district_queue", "signoffs", "followups"} == _panels(html)
    assert _count(html, "district_queue") == 1 and f"/alerts/{alert.id}" in html
    assert "王小明" not in html


def test_supervisor_sees_review_queues_and_integrity_and_no_child(client, world):
    html = _home(client, world, "supervisor")
    assert _panels(html) == {"break_glass", "denied", "integrity"}
    assert world.own_student.name not in html and "王小明" not in html


def test_admin_sees_imports_and_accounts(client, world):
    html = _home(client, world, "admin")
    assert _panels(html) == {"imports", "accounts"}
    assert world.own_student.name not in html


def test_partner_has_an_empty_workbench(client, world):
    html = _home(client, world, "partner")
    assert _panels(html) == set() and 'data-testid="workbench-empty"' in html


def test_names_on_the_workbench_are_audited(client, world, db_session):
    _home(client, world, "psych_teacher")
    entry = (
        db_session.query(AuditEntry)
        .filter(
            AuditEntry.action == AuditAction.STUDENT_LIST, AuditEntry.object_type == "workbench"
        )
        .one()
    )
    assert str(world.extra["red"].id) in entry.detail["students"]


def test_menu_is_grouped_and_shows_only_what_the_role_may_use(client, world):
    html = _home(client, world, "class_teacher")
    groups = re.findall(r'data-group="([a-z]+)"', html)
    assert groups == ["workbench", "students"]
    assert "/caseload" not in html and "/my-class" in html and "/admin/" not in html
    html = _home(client, world, "psych_teacher")
    groups = re.findall(r'data-group="([a-z]+)"', html)
    assert groups == ["workbench", "students", "screening", "alerts", "reports"]
    assert "/caseload" in html and "/my-class" not in html  # no class of their own
    html = _home(client, world, "admin")
    assert re.findall(r'data-group="([a-z]+)"', html) == ["workbench", "admin"]
    assert 'data-testid="role-label"' in html


def test_caseload_lists_responsible_students_filtered_and_sorted(client, world, db_session):
    red, own = world.extra["red"], world.own_student
    calm = make_student(db_session, world.own_school, name="安静", tier=0)
    db_session.flush()
    _home(client, world, "psych_teacher")
    html = client.get("/caseload").get_data(as_text=True)
    assert red.name in html and own.name in html and calm.name not in html
    assert world.other_student.name not in html
    only_red = client.get("/caseload?tier=3").get_data(as_text=True)
    assert red.name in only_red and own.name not in only_red
    by_due = client.get("/caseload?sort=due").get_data(as_text=True)
    assert by_due.index(red.name) < by_due.index(own.name)  # red has a follow-up due
    entry = db_session.query(AuditEntry).filter(AuditEntry.object_type == "caseload").first()
    assert entry is not None and str(red.id) in entry.detail["students"]


def test_class_list_shows_names_with_a_report_link_prefilling_the_form(client, world):
    _home(client, world, "class_teacher")
    html = client.get("/my-class").get_data(as_text=True)
    student = world.own_student
    assert student.name in html and f"/students/{student.id}" not in html
    link = f"/concerns/new?student={student.id}"
    assert link in html
    form = client.get(link).get_data(as_text=True)
    assert re.search(
        rf'<option[^>]*selected[^>]*value="{student.id}"|<option[^>]*value="{student.id}"[^>]*selected',
        form,
    )
