"""Student search (blind indexes, scoped, audited) and the student page (growth record)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import ChoiceLoader, DictLoader

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.students import record
from wellbeing.students.models import name_initials, normalize_name

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user


@pytest.fixture
def two_schools(db_session, env):  # type: ignore[no-untyped-def]
    own, other = make_school(db_session), make_school(db_session)
    klass = make_class(db_session, own, 8, "3班")
    return {
        "own": own,
        "other": other,
        "zhang": make_student(
            db_session, own, klass, name="张小明", student_number="J2024017", tier=2
        ),
        "zhang_other": make_student(db_session, other, name="张小明", student_number="J2024017"),
        "li": make_student(db_session, own, klass, name="李 华", student_number="J2024018"),
        "psych": make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=own),
        "counsellor": make_user(db_session, env.settings, Role.COUNSELLOR),
        "class_teacher": make_user(
            db_session, env.settings, Role.CLASS_TEACHER, school=own, school_class=klass
        ),
    }


def _search(client, q):  # type: ignore[no-untyped-def]
    return client.get("/students/search", query_string={"q": q})


@pytest.mark.parametrize("query", ["张小明", " 张 小明 ", "j2024017", "J2024017", "zxm", "ZXM"])
def test_psych_teacher_finds_own_school_student_only(client, two_schools, query, audit_entries):
    w = two_schools
    login(client, w["psych"])
    response = _search(client, query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"/students/{w['zhang'].id}" in html
    assert f"/students/{w['zhang_other'].id}" not in html
    table = html[html.index('id="search-results"') : html.index("</table>")]
    assert "Grade 8, class 3" in table and "tier-orange" in table  # the class "3班" of grade 8
    assert "J2024017" not in table  # least data: no student number, birth date or guardian
    [entry] = audit_entries(AuditAction.STUDENT_SEARCH)
    assert entry.detail["students"] == [str(w["zhang"].id)]
    assert "张" not in str(entry.detail) and "zxm" not in str(entry.detail).lower()


def test_name_with_inner_space_matches_without(client, two_schools):
    login(client, two_schools["psych"])
    assert f"/students/{two_schools['li'].id}" in _search(client, "李华").get_data(as_text=True)


def test_search_lists_nothing_for_partial_names(client, two_schools, audit_entries):
    login(client, two_schools["psych"])
    response = _search(client, "张小")
    assert response.status_code == 200 and "search-empty" in response.get_data(as_text=True)
    assert audit_entries(AuditAction.STUDENT_SEARCH)[-1].detail["students"] == []


def test_counsellor_sees_only_district_involved_students(client, db_session, two_schools):
    w = two_schools
    login(client, w["counsellor"])
    html = _search(client, "张小明").get_data(as_text=True)
    assert "/students/" + str(w["zhang"].id) not in html
    w["zhang_other"].district_involved = True
    db_session.flush()
    html = _search(client, "张小明").get_data(as_text=True)
    assert f"/students/{w['zhang_other'].id}" in html and f"/students/{w['zhang'].id}" not in html


def test_class_teacher_can_neither_search_nor_open_records(client, two_schools, audit_entries):
    w = two_schools
    login(client, w["class_teacher"])
    assert _search(client, "张小明").status_code == 403
    assert client.get(f"/students/{w['zhang'].id}").status_code == 403
    assert audit_entries(AuditAction.STUDENT_SEARCH) == []
    assert audit_entries(AuditAction.STUDENT_VIEW) == []
    assert len(audit_entries(AuditAction.ACCESS_DENIED)) == 2


def test_empty_query_is_refused_without_listing(client, two_schools, audit_entries):
    login(client, two_schools["psych"])
    assert _search(client, "  ").status_code == 400
    assert audit_entries(AuditAction.STUDENT_SEARCH) == []


def test_student_page_shows_identity_and_audits_fields(
    client, db_session, two_schools, audit_entries
):
    w = two_schools
    w["zhang"].guardians = [{"name": "张大山", "phone": "13800138000", "relation": "父亲"}]
    db_session.flush()
    login(client, w["psych"])
    response = client.get(f"/students/{w['zhang'].id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "张小明" in html and "J2024017" in html and "13800138000" in html
    assert 'id="section-identity"' in html
    [entry] = audit_entries(AuditAction.STUDENT_VIEW)
    assert entry.student_id == w["zhang"].id
    assert {"name", "student_number", "birth_date", "guardians"} <= set(entry.fields)
    assert client.get(f"/students/{w['zhang_other'].id}").status_code == 403
    assert client.get(f"/students/{uuid.uuid4()}").status_code == 404


def test_other_modules_add_sections(app, client, two_schools, audit_entries):
    calls = []
    loader = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader(
        [DictLoader({"students/_test_section.html": "<p>{{ section.word }}</p>"}), loader]
    )

    @record.section("test-extra", order=99)
    def extra(session, principal, student):  # type: ignore[no-untyped-def]
        calls.append(student.id)
        return "students/_test_section.html", {"word": "extra-section-marker"}, ["test.extra"]

    @record.section("test-hidden", order=98)
    def hidden(session, principal, student):  # type: ignore[no-untyped-def]
        return None

    try:
        login(client, two_schools["psych"])
        html = client.get(f"/students/{two_schools['zhang'].id}").get_data(as_text=True)
    finally:
        app.jinja_env.loader = loader
        record.SECTIONS.pop("test-extra")
        record.SECTIONS.pop("test-hidden")
    assert calls == [two_schools["zhang"].id]
    assert 'id="section-test-extra"' in html and "extra-section-marker" in html
    assert 'id="section-test-hidden"' not in html
    assert html.index("section-identity") < html.index("section-test-extra")
    assert "test.extra" in audit_entries(AuditAction.STUDENT_VIEW)[0].fields


def test_initials_of_chinese_names():
    assert name_initials("张小明") == "zxm"
    assert name_initials("单田芳") == "stf"  # surname reading, not 单 dan
    assert name_initials("欧阳娜娜") == "oynn"
    assert name_initials("Tom Li") == "tl"
    assert name_initials("·") is None


@given(st.text(max_size=20))
def test_initials_are_lowercase_ascii(name):
    initials = name_initials(name)
    assert initials is None or (
        initials.isascii() and initials == initials.lower() and initials.isalnum()
    )
    assert initials is None or len(initials) <= len(normalize_name(name))
