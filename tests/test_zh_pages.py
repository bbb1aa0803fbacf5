"""Pages as a zh_CN user sees them (the default language; most users never switch): error
pages in Chinese, no raw codes, grades and classes as schools write them, names by pinyin."""

from __future__ import annotations

from html.parser import HTMLParser

from wellbeing.auth.admin import create_user
from wellbeing.core.authz import Role
from wellbeing.risk.services import apply_tier

from .browser.language_guard import is_english
from .conftest import login
from .factories import PASSWORD, make_class, make_school, make_student, make_user


class _Text(HTMLParser):
    """Text nodes of the body a zh_CN reader sees (not in lang="en", code, script or style)."""

    SKIP = {"script", "style", "code", "kbd", "samp", "pre", "title"}
    VOID = {"br", "hr", "img", "input", "link", "meta", "source", "wbr", "col", "area"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag in self.VOID:
            return
        lang = dict(attrs).get("lang")
        hidden = tag in self.SKIP or (lang is not None and not lang.startswith("zh"))
        self.stack.append(hidden or bool(self.stack and self.stack[-1]))

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        text = " ".join(data.split())
        if text and not (self.stack and self.stack[-1]):
            self.texts.append(text)


def english_on(html: str, *data: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return [t for t in parser.texts if is_english(t, data)]


def _chinese(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})


def test_404_page_is_chinese(client):
    _chinese(client)
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "页面不存在" in html and "This page does not exist" not in html
    assert english_on(html) == []


def test_403_page_is_chinese(client, db_session, env):
    school = make_school(db_session)
    teacher = make_user(db_session, env.settings, Role.CLASS_TEACHER, school=school)
    login(client, teacher)
    _chinese(client)
    response = client.get("/students/search", query_string={"q": "张"})
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "您无权访问此页面" in html
    assert english_on(html, teacher.display_name, teacher.username) == []


def test_api_errors_stay_english_for_programs(client):
    _chinese(client)
    response = client.get("/api/v1/no-such-thing")
    assert response.get_json()["error"]["message"] == "This page does not exist."


def test_tier_history_shows_reasons_and_sources_as_labels(client, db_session, env):
    school = make_school(db_session)
    student = make_student(db_session, school, make_class(db_session, school, 10, "1班"))
    apply_tier(db_session, None, student, 2, source="concern", reason="concern_soon")
    apply_tier(db_session, None, student, 3, source="screening", reason="phq9_item9_red")
    psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, psych)
    _chinese(client)
    html = client.get(f"/students/{student.id}/tier").get_data(as_text=True)
    assert "concern_soon" not in html and "phq9_item9_red" not in html
    assert "关注上报：需在数日内跟进" in html and "第9题 ≥ 1（待评估确认）" in html
    assert ">screening<" not in html and ">concern<" not in html

    record = client.get(f"/students/{student.id}").get_data(as_text=True)
    assert "高一(1)班" in record
    assert "Grade" not in record and "年级 1班" not in record


def test_search_lists_names_by_pinyin_with_classes_as_schools_write_them(client, db_session, env):
    """周新民, 赵晓梅, 张小明 all answer to "zxm"; in one class the list is 张 < 赵 < 周 (by
    pinyin, not by code point: 周 U+5468 < 张 U+5F20 < 赵 U+8D75); classes by grade and number."""
    school = make_school(db_session)
    klass = make_class(db_session, school, 12, "3班")
    for name in ("周新民", "赵晓梅", "张小明"):
        make_student(db_session, school, klass, name=name)
    for grade, label in ((7, "10班"), (7, "2班"), (8, "1班")):
        make_student(
            db_session, school, make_class(db_session, school, grade, label), name="朱晓敏"
        )
    psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, psych)
    _chinese(client)
    html = client.get("/students/search", query_string={"q": "zxm"}).get_data(as_text=True)
    table = html[html.index('id="search-results"') :]
    positions = [table.index(name) for name in ("张小明", "赵晓梅", "周新民")]
    assert positions == sorted(positions)
    classes = [table.index(c) for c in ("七年级(2)班", "七年级(10)班", "八年级(1)班", "高三(3)班")]
    assert classes == sorted(classes)


def test_users_are_listed_by_pinyin(client, db_session, env):
    """Not by username (a-zhou, b-li, c-an) nor by code point: 安 < 李 < 周."""
    admin = make_user(db_session, env.settings, Role.ADMIN)
    for username, name in (("a-zhou", "周老师"), ("b-li", "李老师"), ("c-an", "安老师")):
        create_user(db_session, None, env.settings, username=username, password=PASSWORD,
                    display_name=name)  # fmt: skip
    login(client, admin)
    _chinese(client)
    html = client.get("/admin/users").get_data(as_text=True)
    positions = [html.index(name) for name in ("安老师", "李老师", "周老师")]
    assert positions == sorted(positions)


def test_roster_column_messages_name_columns_in_chinese(app):
    """ "missing required columns: grade (年级), class (班级)" showed the field codes to a
    Chinese reader; the columns are named as the school's file names them."""
    from flask_babel import force_locale

    from wellbeing.students.messages import ROSTER_MESSAGES

    with app.test_request_context():
        with force_locale("zh_CN"):
            missing = ROSTER_MESSAGES("missing required columns: grade (年级), class (班级)")
            twice = ROSTER_MESSAGES("more than one column for grade")
        with force_locale("en"):
            english = ROSTER_MESSAGES("missing required columns: grade (年级), class (班级)")
    assert "年级、班级" in missing and "grade" not in missing and "(" not in missing
    assert "年级" in twice and "grade" not in twice
    assert english == "missing required columns: grade (年级), class (班级)"


def test_screening_results_name_incomplete_answers(app):
    """The results table showed "incomplete: 1" (a band code) on Chinese pages."""
    import uuid
    from types import SimpleNamespace

    from flask import render_template
    from flask_babel import force_locale

    from wellbeing.screening.queries import band_labels

    campaign = SimpleNamespace(id=uuid.uuid4(), name="秋季测评", instruments=["phq9"])
    row = SimpleNamespace(  # a line of reports.publish.PublishedResults (counts as text)
        school="第一中学", grade=7, class_label="3班", critical="0", screened="3",
        bands={"phq9": [("mild", "2"), ("incomplete", "1")]}, tiers=["3", "0", "0", "0"],
    )  # fmt: skip
    published = SimpleNamespace(lines=[row], total=row, threshold=None, hidden=False)
    with app.test_request_context(), force_locale("zh_CN"):
        html = render_template(
            "screening/results.html", campaign=campaign, published=published, by="class",
            labels=band_labels(["phq9"], "zh_CN"),
        )  # fmt: skip
    table = html[html.index('id="results"') :]
    assert "incomplete" not in table and "作答不完整：1" in table and "轻度抑郁：2" in table
    assert "七年级" in table and "七年级(3)班" in table
    assert english_on(html, "phq9") == []
