"""Issue 13 B.4, the student chip: wherever a page names a student, a person who may open the
record (the record page's own check, ``can(RECORD_READ, student)``) gets a link to it with
the school, the class (高一(1)班) and the tier; anyone else gets the name as plain text."""

from __future__ import annotations

import re
import uuid

import pytest

from wellbeing.alerts.models import Alert
from wellbeing.alerts.services import raise_alert
from wellbeing.auth.services import build_principal
from wellbeing.concerns import services as concerns
from wellbeing.core.authz import Role
from wellbeing.crisis.services import open_crisis
from wellbeing.db import utcnow
from wellbeing.followups.services import schedule_followup

from .conftest import login
from .factories import make_class, make_school, make_student, make_user

SCHOOL = "春晖中学"


@pytest.fixture
def chip_world(db_session, env):  # type: ignore[no-untyped-def]
    settings = env.settings
    school = make_school(db_session, name=SCHOOL)
    klass = make_class(db_session, school, 10, "1班")
    users = {
        "psych": make_user(db_session, settings, Role.PSYCH_TEACHER, school=school),
        "class": make_user(db_session, settings, Role.CLASS_TEACHER, school=school,
                           school_class=klass),
        "leader": make_user(db_session, settings, Role.SCHOOL_LEADER, school=school),
        "counsellor": make_user(db_session, settings, Role.COUNSELLOR),
    }  # fmt: skip
    red = make_student(db_session, school, klass, name="周红红", tier=3)
    calm = make_student(db_session, school, klass, name="吴平平", tier=1)
    return {"school": school, "users": users, "red": red, "calm": calm}


def linked(page: str, student) -> bool:  # type: ignore[no-untyped-def]
    """The page names ``student`` with a chip that links to the record."""
    return f'href="/students/{student.id}"' in page and student.name in page


def plain(page: str, student) -> bool:  # type: ignore[no-untyped-def]
    """The page names ``student`` as plain text: no link to the record, no tier badge next to
    it, no school or class."""
    chip = re.search(r'<span class="student-chip plain[^"]*"[^>]*>([^<]*)</span>', page)
    return (
        chip is not None
        and chip.group(1) == student.name
        and f"/students/{student.id}" not in page
        and "Grade 10, class 1" not in page
    )


def _get(client, user, url: str) -> str:  # type: ignore[no-untyped-def]
    login(client, user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_own_reports_link_for_the_psych_teacher_plain_text_for_the_class_teacher(
    client, db_session, chip_world
):  # type: ignore[no-untyped-def]
    w = chip_world
    for who in ("class", "psych"):
        concerns.create_concern(
            db_session, build_principal(db_session, w["users"][who]), w["calm"],
            category="mood", urgency="routine", text="最近上课常常走神",
        )  # fmt: skip
    page = _get(client, w["users"]["class"], "/concerns/mine")
    assert plain(page, w["calm"]) and "tier-badge" not in page
    page = _get(client, w["users"]["psych"], "/concerns/mine")
    assert linked(page, w["calm"])
    assert SCHOOL in page and "Grade 10, class 1" in page and "tier-badge" in page


def test_case_pages_link_the_name_for_school_staff(client, db_session, chip_world):  # type: ignore[no-untyped-def]
    w = chip_world
    red, calm = w["red"], w["calm"]
    concern = concerns.create_concern(
        db_session, build_principal(db_session, w["users"]["class"]), calm,
        category="mood", urgency="soon", text="情绪低落",
    )  # fmt: skip
    crisis = open_crisis(db_session, red)
    assert crisis is not None
    raise_alert(db_session, kind="red_tier", school_id=red.school_id, student_id=red.id,
                source_id=uuid.uuid4(), tier=3, now=utcnow())  # fmt: skip
    alert = db_session.query(Alert).filter_by(student_id=red.id).first()
    schedule_followup(db_session, None, red, due_at=utcnow(), owner_id=w["users"]["psych"].id,
                      source="manual")  # fmt: skip
    db_session.flush()
    pages = {
        "/concerns/queue": calm,
        f"/concerns/{concern.id}": calm,
        "/crisis": red,
        f"/crisis/{crisis.id}": red,
        "/alerts?state=all": red,
        f"/alerts/{alert.id}": red,
        f"/reports/school?school={w['school'].id}": red,
        "/agenda": red,
    }
    for url, student in pages.items():
        page = _get(client, w["users"]["psych"], url)
        assert linked(page, student), url
        assert "Grade 10, class 1" in page, url
    page = _get(client, w["users"]["leader"], f"/reports/school?school={w['school'].id}")
    assert linked(page, red)


def test_the_district_sees_no_link_before_the_school_escalates(client, db_session, chip_world):  # type: ignore[no-untyped-def]
    w = chip_world
    red = w["red"]
    open_crisis(db_session, red)
    db_session.flush()
    counsellor = w["users"]["counsellor"]
    page = _get(client, counsellor, "/crisis")
    assert red.name not in page and f"/students/{red.id}" not in page
    red.district_involved = True
    db_session.flush()
    page = _get(client, counsellor, "/crisis")
    assert linked(page, red)


def test_the_leader_gets_links_and_the_class_teacher_never_sees_the_record(
    client, db_session, chip_world
):  # type: ignore[no-untyped-def]
    w = chip_world
    concern = concerns.create_concern(
        db_session, build_principal(db_session, w["users"]["class"]), w["calm"],
        category="family", urgency="routine", text="家里最近有变故",
    )  # fmt: skip
    open_crisis(db_session, w["red"])
    db_session.flush()
    for url, student in {"/concerns/queue": w["calm"], "/crisis": w["red"]}.items():
        assert linked(_get(client, w["users"]["leader"], url), student), url
    login(client, w["users"]["class"])
    assert client.get(f"/concerns/{concern.id}").status_code == 403
    assert plain(_get(client, w["users"]["class"], "/concerns/mine"), w["calm"])
