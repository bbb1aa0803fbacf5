"""The hotline log: anonymous calls stay anonymous; a named student becomes a concern."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from wellbeing.auth.services import build_principal
from wellbeing.concerns import hotline, services
from wellbeing.concerns.models import Concern, HotlineCall
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden

from ..conftest import login
from ..factories import make_school, make_student, staff_set

CALL_AT = dt.datetime(2026, 3, 2, 2, 30, tzinfo=dt.UTC)


@pytest.fixture
def hotline_world(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    student = make_student(db_session, school, student_number="2026-0042", name="赵小红")
    return {
        "school": school, "users": users, "student": student,
        "counsellor": build_principal(db_session, users["counsellor"]),
    }  # fmt: skip


def test_anonymous_call_is_counted_but_names_nobody(db_session, hotline_world, audit_entries):
    w = hotline_world
    call = hotline.log_hotline_call(
        db_session, w["counsellor"], called_at=CALL_AT, duration_minutes=20, caller_type="student",
        topics=["mood", "academic"], risk_level=1, notes="考试压力大",
    )  # fmt: skip
    assert call.anonymous and call.student_id is None and call.school_id is None
    assert db_session.scalar(select(func.count()).select_from(Concern)) == 0
    stats = hotline.hotline_stats(db_session, w["counsellor"], CALL_AT - dt.timedelta(days=1))
    assert stats["anonymous"] == {"anonymous": 1} and stats["risk_level"] == {"1": 1}
    (entry,) = audit_entries(AuditAction.HOTLINE_CALL)
    assert entry.student_id is None and entry.detail["anonymous"] is True


def test_call_about_a_named_student_becomes_a_concern(db_session, hotline_world, audit_entries):
    w = hotline_world
    call = hotline.log_hotline_call(
        db_session, w["counsellor"], called_at=CALL_AT, duration_minutes=35, caller_type="guardian",
        topics=["self_harm"], risk_level=3, notes="母亲说孩子写了遗书",
        school_id=w["school"].id, student_number=" 2026-0042 ",
    )  # fmt: skip
    assert not call.anonymous and call.student_id == w["student"].id
    concern = db_session.scalar(select(Concern).where(Concern.hotline_call_id == call.id))
    assert concern.source == "hotline" and concern.urgency == "immediate_danger"
    assert concern.category == "self_harm_signs" and concern.text == "母亲说孩子写了遗书"
    assert w["student"].tier == 3
    assert len(audit_entries(AuditAction.CONCERN_CREATE)) == 1


def test_unknown_student_number_or_missing_notes_is_refused(db_session, hotline_world):
    w = hotline_world
    base = {
        "called_at": CALL_AT, "duration_minutes": 5, "caller_type": "teacher", "topics": ["family"],
        "risk_level": 1, "school_id": w["school"].id,
    }  # fmt: skip
    with pytest.raises(services.ConcernError):
        hotline.log_hotline_call(
            db_session, w["counsellor"], notes="x", student_number="nope", **base
        )
    with pytest.raises(services.ConcernError):
        hotline.log_hotline_call(
            db_session, w["counsellor"], notes="", student_number="2026-0042", **base
        )
    # the same number at another school is another student (blind index scoped by school)
    other = make_school(db_session)
    base["school_id"] = other.id
    with pytest.raises(services.ConcernError):
        hotline.log_hotline_call(
            db_session, w["counsellor"], notes="x", student_number="2026-0042", **base
        )
    assert db_session.scalar(select(func.count()).select_from(HotlineCall)) == 0


def test_only_counsellors_log_calls(db_session, hotline_world):
    w = hotline_world
    psych = build_principal(db_session, w["users"]["psych_teacher"])
    with pytest.raises(Forbidden):
        hotline.log_hotline_call(
            db_session, psych, called_at=CALL_AT, duration_minutes=1, caller_type="other",
            topics=["other"], risk_level=0, notes=None,
        )  # fmt: skip


def test_hotline_form_and_detail(client, db_session, hotline_world, audit_entries):
    w = hotline_world
    login(client, w["users"]["counsellor"])
    form = client.get("/hotline/new").get_data(as_text=True)
    assert 'name="topics"' in form
    response = client.post(
        "/hotline/new",
        data={
            "called_at": "2026-03-02T10:30", "duration_minutes": "15", "caller_type": "guardian",
            "topics": ["family", "bullying"], "risk_level": "2", "school_id": str(w["school"].id),
            "student_number": "2026-0042", "notes": "孩子在学校被欺负",
        },
    )  # fmt: skip
    assert response.status_code == 302
    db_session.expire_all()
    call = db_session.scalar(select(HotlineCall))
    # 10:30 Asia/Shanghai is 02:30 UTC
    assert call.called_at == CALL_AT and call.student_id == w["student"].id
    assert w["student"].tier == 1  # "soon" (risk orange) → at least yellow
    listing = client.get("/hotline").get_data(as_text=True)
    assert "赵小红" not in listing and "孩子在学校被欺负" not in listing
    detail = client.get(f"/hotline/{call.id}").get_data(as_text=True)
    assert "孩子在学校被欺负" in detail and "赵小红" not in detail
    assert audit_entries(AuditAction.HOTLINE_VIEW)[-1].object_id == str(call.id)


def test_hotline_form_chooses_no_caller_and_no_risk_for_the_counsellor(
    client, db_session, hotline_world
):
    """Who called and how risky it sounded are facts: the form starts with neither chosen
    (it preselected "student" and "green", so a guardian's call about a red-risk child was
    recorded as a student's calm call when the counsellor missed the fields)."""
    w = hotline_world
    login(client, w["users"]["counsellor"])
    form = client.get("/hotline/new").get_data(as_text=True)
    assert not re.search(
        r'<option[^>]*selected[^>]*value="student"|value="student"[^>]*selected', form
    )
    assert not re.search(r'name="risk_level"[^>]*checked|checked[^>]*name="risk_level"', form)
    response = client.post(
        "/hotline/new",
        data={"called_at": "2026-03-02T10:30", "duration_minutes": "5", "topics": ["mood"]},
    )
    assert response.status_code == 200
    assert db_session.scalar(select(HotlineCall)) is None
    page = response.get_data(as_text=True)
    assert "Choose who called." in page and "Choose the risk level you heard." in page
