"""The campaign results page through HTTP (issue 16's motivating leak): "counts only; no names"
showed a class with "severe: 1, crisis: 1" to a school leader who also has the named red list.
Now every viewer who is not the school's case worker sees small counts as "<10", complements
as "*", with totals, and the page says in words what "<10" means."""

from __future__ import annotations

import io
import re

import pytest

from wellbeing.core.authz import Role
from wellbeing.screening.models import Campaign

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user
from ..screening.helpers import GAD, PHQ, gad, phq, school_with_students

HEADER = ",".join(["student_number", *PHQ, *GAD])


def _csv(rows: list[list[object]]) -> io.BytesIO:
    text = "\n".join([HEADER, *(",".join(str(c) for c in r) for r in rows)]) + "\n"
    return io.BytesIO(text.encode())


@pytest.fixture
def screened(client, db_session, env):  # type: ignore[no-untyped-def]
    """Class A of grade 7: 18 well, one severe, one with the critical item (a crisis); class B
    of grade 7: 15 well; one class of grade 8: 12 well."""
    school, _klass, first = school_with_students(db_session, 20, grade=7)
    second = [
        make_student(db_session, school, make_class(db_session, school, 7)) for _ in range(15)
    ]
    g8 = make_class(db_session, school, 8)
    third = [make_student(db_session, school, g8) for _ in range(12)]
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, teacher)
    client.post("/screening/campaigns/new", data={
        "name": "Autumn 2026", "instruments": ["phq9", "gad7"], "school": str(school.id),
        "grade_from": "4", "grade_to": "12", "opens_on": "2000-01-01", "closes_on": "2999-01-01",
        "consent_text": "知情同意",
    })  # fmt: skip
    campaign = db_session.query(Campaign).filter_by(name="Autumn 2026").one()
    rows = [[s.student_number, *phq(1), *gad(1)] for s in first[:18] + second + third]
    rows.append([first[18].student_number, *phq(24), *gad(1)])
    rows.append([first[19].student_number, *phq(1, item9=2), *gad(1)])
    upload = client.post(f"/screening/campaigns/{campaign.id}/import",
                         data={"file": (_csv(rows), "r.csv")}, content_type="multipart/form-data")  # fmt: skip
    assert upload.status_code == 200
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=school)
    return campaign, teacher, leader


def _table(html: str) -> str:
    return html[html.index('id="results"') : html.index("</table>", html.index('id="results"'))]


def _numbers(table: str) -> list[int]:
    """Every count shown in a cell or after a band's label."""
    return [int(n) for n in re.findall(r"(?:>|：|: )(\d+)(?=<)", table)]


@pytest.mark.parametrize("by", ["class", "grade", "school"])
def test_a_school_leader_sees_no_small_count(client, screened, by) -> None:  # type: ignore[no-untyped-def]
    campaign, _teacher, leader = screened
    login(client, leader)
    html = client.get(f"/screening/campaigns/{campaign.id}/results?by={by}").get_data(as_text=True)
    table = _table(html)
    assert "&lt;10" in table
    assert all(n == 0 or n >= 10 for n in _numbers(table)), _numbers(table)
    assert 'data-tier="3">&lt;10<' in table and 'data-count="critical">&lt;10<' in table
    assert "<tfoot>" in table and 'data-count="screened">47<' in table  # the total stays
    assert "means a count below 10" in html


def test_the_pattern_is_the_same_on_every_request(client, screened) -> None:  # type: ignore[no-untyped-def]
    campaign, _teacher, leader = screened
    login(client, leader)
    pages = [
        _table(
            client.get(f"/screening/campaigns/{campaign.id}/results?by=class").get_data(
                as_text=True
            )
        )
        for _ in range(2)
    ]
    assert pages[0] == pages[1]


def test_the_page_says_what_the_mark_means_in_chinese(client, screened) -> None:  # type: ignore[no-untyped-def]
    campaign, _teacher, leader = screened
    login(client, leader)
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    html = client.get(f"/screening/campaigns/{campaign.id}/results?by=class").get_data(as_text=True)
    assert "表示人数少于 10" in html and "以免认出具体学生" in html
    assert "“*”表示同样隐藏的数字" in html
    assert all(n == 0 or n >= 10 for n in _numbers(_table(html)))


def test_the_case_worker_sees_the_counts_as_they_are(client, screened) -> None:  # type: ignore[no-untyped-def]
    campaign, teacher, _leader = screened
    login(client, teacher)
    html = client.get(f"/screening/campaigns/{campaign.id}/results?by=class").get_data(as_text=True)
    table = _table(html)
    assert 'data-tier="3">1<' in table and 'data-count="critical">1<' in table
    assert "&lt;10" not in table and "suppression-note" not in html


def test_a_counsellor_looking_at_the_district_sees_them_suppressed(  # type: ignore[no-untyped-def]
    client, db_session, env, screened
) -> None:
    campaign, _teacher, _leader = screened
    login(client, make_user(db_session, env.settings, Role.COUNSELLOR))
    html = client.get(f"/screening/campaigns/{campaign.id}/results?by=class").get_data(as_text=True)
    assert "&lt;10" in _table(html)
    assert all(n == 0 or n >= 10 for n in _numbers(_table(html)))


@pytest.fixture
def tiered(db_session, env):  # type: ignore[no-untyped-def]
    """One school: grade 7 with 30 green, 12 yellow, 1 red; grade 8 with 25 green, 11 yellow."""
    school = make_school(db_session)
    g7, g8 = make_class(db_session, school, 7), make_class(db_session, school, 8)
    for klass, tiers in ((g7, [0] * 30 + [1] * 12 + [3]), (g8, [0] * 25 + [1] * 11)):
        for tier in tiers:
            make_student(db_session, school, klass, tier=tier)
    users = {
        role: make_user(db_session, env.settings, role, school=school)
        for role in (Role.PSYCH_TEACHER, Role.SCHOOL_LEADER)
    }
    users[Role.SUPERVISOR] = make_user(db_session, env.settings, Role.SUPERVISOR)
    return school, users


def _tile(html: str, name: str) -> str:
    found = re.search(rf'id="{name}"><span class="number">([^<]*)<', html)
    assert found, name
    return found.group(1)


def test_dashboards_suppress_tier_counts_for_anyone_but_the_case_worker(  # type: ignore[no-untyped-def]
    client, tiered
) -> None:
    school, users = tiered
    login(client, users[Role.PSYCH_TEACHER])
    html = client.get(f"/reports/school?school={school.id}").get_data(as_text=True)
    assert _tile(html, "school-red") == "1" and "suppression-note" not in html
    login(client, users[Role.SCHOOL_LEADER])
    html = client.get(f"/reports/school?school={school.id}").get_data(as_text=True)
    assert _tile(html, "school-red") == "&lt;10" and _tile(html, "school-orange") == "0"
    # the red total would be 79 minus the others: one of them is hidden too, the smallest
    assert _tile(html, "school-yellow") == "*"
    grades = html[
        html.index('id="tier-by-grade"') : html.index("</table>", html.index('id="tier-by-grade"'))
    ]
    assert "&lt;10" in grades and all(n == 0 or n >= 10 for n in _numbers(grades))
    assert "means a count below 10" in html
    login(client, users[Role.SUPERVISOR])
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    html = client.get("/reports/district").get_data(as_text=True)
    row = html[html.index(f'id="school-row-{school.code}"') :]
    row = row[: row.index("</tr>")]
    assert "&lt;10" in row and ">1<" not in row
    assert "表示人数少于 10" in html
