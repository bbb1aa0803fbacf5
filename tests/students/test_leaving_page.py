"""The leavers page (``/students/leavers``): choose the school, list student numbers (or add
students found by name), preview them as chips with every problem listed, confirm; the
confirmation says how many records were sealed and what closed with them. The menu entry, the
audit of what the preview names, and the sealed record's banner and export link."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from wellbeing.alerts import services as alert_services
from wellbeing.core.audit import AuditAction
from wellbeing.students.enrolment import record_leaving, school_today
from wellbeing.students.leaving_views import parse_numbers
from wellbeing.students.models import Student, StudentStatus

from ..conftest import login
from ..factories import make_class, make_school, make_student, staff_set

URL = "/students/leavers"


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    school, elsewhere = make_school(db_session, name="第一中学"), make_school(db_session)
    staff = staff_set(db_session, env.settings, school)
    klass = make_class(db_session, school, grade=9, label="3")
    made = [
        make_student(db_session, school, klass, student_number=f"L{n}", name=name)
        for n, name in ((1, "王小明"), (2, "李小红"), (3, "张小华"))
    ]
    stranger = make_student(db_session, elsewhere, student_number="L9", name="赵外校")
    db_session.flush()
    return {"school": school, "staff": staff, "students": made, "stranger": stranger}


def _form(w: dict[str, Any], numbers: str, **extra: str) -> dict[str, str]:
    data = {"school": str(w["school"].id), "numbers": numbers, "status": "graduated",
            "left_on": school_today().isoformat(), "q": "", "checked": ""}  # fmt: skip
    data.update(extra)
    return data


def _checked(html: str) -> str:
    match = re.search(r'name="checked"[^>]*value="([0-9a-f]+)"', html) or re.search(
        r'value="([0-9a-f]+)"[^>]*name="checked"', html
    )
    assert match, "no digest in the preview"
    return match.group(1)


def test_numbers_are_read_one_per_line_once_each() -> None:
    assert parse_numbers(" L1\nL2\r\n\nL1, L3;L4\tL5 ") == ["L1", "L2", "L3", "L4", "L5"]
    assert parse_numbers(None) == []


def test_the_menu_and_the_empty_form_are_the_administrators(client, world):
    login(client, world["staff"]["admin"])
    page = client.get("/").get_data(as_text=True)
    assert f'href="{URL}"' in page
    form = client.get(URL).get_data(as_text=True)
    assert 'id="leavers-form"' in form and school_today().isoformat() in form
    login(client, world["staff"]["psych_teacher"])
    assert f'href="{URL}"' not in client.get("/").get_data(as_text=True)


def test_preview_names_the_students_and_confirm_seals_them(
    client, db_session, world, audit_entries
):
    w = world
    alert_services.raise_alert(db_session, kind="red_tier", school_id=w["school"].id,
                               student_id=w["students"][0].id, source_id=uuid.uuid4(), tier=3)  # fmt: skip
    db_session.flush()
    login(client, w["staff"]["admin"])
    response = client.post(URL, data=_form(w, "L1\nL2", action="preview"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "王小明" in html and "李小红" in html and "张小华" not in html
    assert 'id="leavers-confirm"' in html
    [listed] = audit_entries(AuditAction.STUDENT_LIST)
    assert sorted(listed.fields) == ["class", "name", "student_number"]
    assert set(listed.detail["students"]) == {str(s.id) for s in w["students"][:2]}
    assert all(s.status == StudentStatus.ACTIVE for s in w["students"])  # nothing sealed yet

    data = _form(w, "L1\nL2", action="confirm", checked=_checked(html))
    response = client.post(URL, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(URL).get_data(as_text=True)
    db_session.expire_all()
    sealed = [db_session.get(Student, s.id) for s in w["students"]]
    assert [s.status for s in sealed] == ["graduated", "graduated", "active"]
    assert all(s.left_at == school_today() for s in sealed[:2])
    assert len(audit_entries(AuditAction.STUDENT_GRADUATE)) == 2
    # The confirmation, in words: how many, and what closed with them.
    flash = re.search(r'class="flash flash-success"[^>]*>(.*?)<', page, re.S)
    assert flash, page
    text = flash.group(1)
    assert "2" in text and school_today().isoformat() in text
    assert ("1 alert resolved" in text) or ("已解决 1 条预警" in text), text


def test_unknown_numbers_and_sealed_students_are_listed_and_block_the_confirmation(
    client, db_session, world
):
    w = world
    record_leaving(db_session, None, w["students"][2], StudentStatus.LEFT)
    db_session.flush()
    login(client, w["staff"]["admin"])
    response = client.post(URL, data=_form(w, "L1\nX404\nL3\nL9", action="preview"))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    unknown = re.search(r'data-testid="leavers-unknown".*?</div>', html, re.S)
    assert unknown and "X404" in unknown.group(0) and "L9" in unknown.group(0)  # L9: another school
    already = re.search(r'data-testid="leavers-already".*?</div>', html, re.S)
    assert already and "张小华" in already.group(0)
    assert 'id="leavers-confirm"' not in html
    # Confirming the same list anyway changes nothing.
    response = client.post(URL, data=_form(w, "L1\nX404\nL3", action="confirm"))
    assert response.status_code == 400
    db_session.expire_all()
    assert db_session.get(Student, w["students"][0].id).status == StudentStatus.ACTIVE


def test_a_list_edited_after_its_preview_is_previewed_again(client, db_session, world):
    w = world
    login(client, w["staff"]["admin"])
    html = client.post(URL, data=_form(w, "L1", action="preview")).get_data(as_text=True)
    response = client.post(URL, data=_form(w, "L1\nL2", action="confirm", checked=_checked(html)))
    assert response.status_code == 400
    assert 'id="leavers-confirm"' in response.get_data(as_text=True)  # the new list, to check
    db_session.expire_all()
    assert db_session.get(Student, w["students"][0].id).status == StudentStatus.ACTIVE


def test_find_by_name_and_add(client, world, audit_entries):
    w = world
    login(client, w["staff"]["admin"])
    response = client.post(URL, data=_form(w, "", q="李小红", action="search"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert 'data-testid="leavers-add"' in html and 'value="L2"' in html
    [searched] = audit_entries(AuditAction.STUDENT_SEARCH)
    assert searched.detail["students"] == [str(w["students"][1].id)]
    response = client.post(URL, data=_form(w, "L1", q="李小红", add="L2"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"L1\s*\nL2\s*</textarea>", html), html
    found = re.search(r'data-testid="leavers-found".*?</ul>', html, re.S)
    assert found and "王小明" in found.group(0) and "李小红" in found.group(0)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"numbers": ""}, "numbers"),
        ({"left_on": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, "left_on"),
        ({"left_on": "yesterday"}, "left_on"),
        ({"school": str(uuid.uuid4())}, "school"),
    ],
    ids=["no-numbers", "future", "not-a-date", "no-such-school"],
)
def test_bad_input_is_refused_beside_its_field(client, db_session, world, data, field):
    w = world
    login(client, w["staff"]["admin"])
    response = client.post(URL, data={**_form(w, "L1", action="confirm"), **data})
    assert response.status_code == 400
    db_session.expire_all()
    assert db_session.get(Student, w["students"][0].id).status == StudentStatus.ACTIVE


def test_the_sealed_record_says_so_and_the_export_link_is_for_exporters(
    client, db_session, world, env
):
    w = world
    student = w["students"][0]
    login(client, w["staff"]["psych_teacher"])
    page = client.get(f"/students/{student.id}").get_data(as_text=True)
    assert 'data-testid="record-sealed"' not in page
    assert f'href="/students/{student.id}/export"' in page  # RECORD_EXPORT: psychology teacher
    login(client, w["staff"]["class_teacher"])
    page = client.get(f"/students/{student.id}").get_data(as_text=True)
    assert "record-export-link" not in page

    record_leaving(db_session, None, student, StudentStatus.GRADUATED, on=dt.date(2026, 6, 30))
    db_session.flush()
    from wellbeing.audit.models import BreakGlass
    from wellbeing.db import utcnow

    now = utcnow()
    counsellor = w["staff"]["counsellor"]
    db_session.add(BreakGlass(user_id=counsellor.id, student_id=student.id, started_at=now,
                              expires_at=now + dt.timedelta(minutes=30), reason="家长申请查阅档案"))  # fmt: skip
    db_session.flush()
    login(client, counsellor)
    response = client.get(f"/students/{student.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    banner = re.search(r'data-testid="record-sealed".*?</div>', page, re.S)
    assert banner and "2026-06-30" in banner.group(0)
    assert "record-export-link" not in page  # a sealed record is read only, even exporting
    assert db_session.scalar(select(Student.status).where(Student.id == student.id)) == "graduated"
