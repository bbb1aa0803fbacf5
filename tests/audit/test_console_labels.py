"""The supervisor's console reads well (issue 12, items 20 and 17): actions, outcomes, roles and
object types as words in zh_CN and en, never raw codes; the student filter takes a student
number, a full name (blind index) or the short id the console shows, not only a UUID; each cell
carries its label for the stacked layout on narrow screens."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask_babel import force_locale

from wellbeing.audit import labels
from wellbeing.auth.models import User
from wellbeing.core import audit
from wellbeing.core.audit import Actor, AuditAction, Outcome
from wellbeing.core.authz import Role

from ..authz import build_world
from ..conftest import login
from ..factories import make_student


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    return build_world(db_session, env.settings)


@pytest.fixture
def trail(db_session, world):  # type: ignore[no-untyped-def]
    """Two students (one with a known number and name) and entries about each."""
    teacher = world.users["psych_teacher"]
    found = make_student(db_session, world.own_school, name="欧阳小雨", student_number="J2024017")
    other = world.other_student
    day = dt.datetime(2026, 5, 11, 2, 0, tzinfo=dt.UTC)
    actor = Actor(user_id=teacher.id, username=teacher.username, role="psych_teacher")
    for n, (student, action, outcome) in enumerate(
        [
            (found, AuditAction.STUDENT_VIEW, Outcome.ALLOWED),
            (found, AuditAction.SCREENING_VIEW, Outcome.ALLOWED),
            (other, AuditAction.ACCESS_DENIED, Outcome.DENIED),
        ]
    ):
        entry = audit.record(
            db_session, action, object_type="student", object_id=f"m-{n}", student_id=student.id,
            school_id=student.school_id, outcome=outcome, actor=actor,
        )  # fmt: skip
        entry.occurred_at = day + dt.timedelta(minutes=n)
    db_session.flush()
    return {"found": found, "other": other}


def _objects(html: str) -> set[str]:
    """The student references shown in the entries table."""
    table = html.split('data-testid="audit-entries"', 1)[-1].split("</table>", 1)[0]
    return set(re.findall(r"<code>([0-9A-F]{8})</code></a>", table))


def _ref(student) -> str:  # type: ignore[no-untyped-def]
    return str(student.id).replace("-", "")[:8].upper()


def test_every_code_the_console_shows_has_a_label_in_both_languages(app):
    missing = [str(a) for a in AuditAction if not labels.has_label("action", str(a))]
    assert missing == []
    with app.test_request_context():
        for table in (labels.ACTION_LABELS, labels.OUTCOME_LABELS, labels.ACTOR_ROLE_LABELS,
                      labels.OBJECT_LABELS):  # fmt: skip
            for code, label in table.items():
                with force_locale("en"):
                    english = str(label)
                with force_locale("zh_CN"):
                    chinese = str(label)
                assert english and english != code, code
                assert chinese != english and not re.search(r"[A-Za-z]{3,}", chinese.replace(
                    "API", "")), f"{code}: {chinese}"  # fmt: skip
    for role in Role:
        assert labels.has_label("role", str(role))


def test_console_shows_words_not_codes(client, world, trail, db_session):
    login(client, world.users["supervisor"])
    html = client.get("/audit/?outcome=denied").get_data(as_text=True)
    table = html.split('data-testid="audit-entries"', 1)[1].split("</table>", 1)[0]
    assert "Access refused" in table and "Refused" in table and "Psychology teacher" in table
    assert "access:route:denied" not in table and ">denied<" not in table
    assert "psych_teacher" not in table
    assert "Student record" in table  # the object type as words
    # The action filter lists labels too.
    options = html.split('name="action"', 1)[1].split("</select>", 1)[0]
    assert "Opened a student record" in options and ">case:student:view<" not in options
    # In Chinese.
    supervisor = db_session.get(User, world.users["supervisor"].id)
    supervisor.locale = "zh_CN"
    db_session.flush()
    html = client.get("/audit/?outcome=denied").get_data(as_text=True)
    table = html.split('data-testid="audit-entries"', 1)[1].split("</table>", 1)[0]
    assert "访问被拒绝" in table and "心理教师" in table and "拒绝" in table
    assert "学生档案" in table
    who = client.get(f"/audit/students/{trail['found'].id}").get_data(as_text=True)
    accessors = who.split('data-testid="accessors"', 1)[1].split("</table>", 1)[0]
    assert "心理教师" in accessors and "psych_teacher" not in accessors


def test_every_cell_carries_its_label_for_the_stacked_layout(client, world, trail):
    login(client, world.users["supervisor"])
    html = client.get("/audit/").get_data(as_text=True)
    table = html.split('data-testid="audit-entries"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td[^>]*>", table)
    assert cells and all("data-label=" in cell for cell in cells)


@pytest.mark.parametrize("how", ["number", "name", "short_upper", "short_lower", "uuid"])
def test_the_student_filter_takes_a_number_a_name_or_the_short_id(
    client, world, trail, audit_entries, how
):
    found = trail["found"]
    typed = {
        "number": "J2024017", "name": "欧阳小雨", "short_upper": _ref(found),
        "short_lower": _ref(found).lower(), "uuid": str(found.id),
    }[how]  # fmt: skip
    login(client, world.users["supervisor"])
    response = client.get("/audit/", query_string={"student": typed})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _objects(html) == {_ref(found)}
    search = audit_entries(AuditAction.AUDIT_SEARCH)[-1]
    recorded = str(search.detail) + str(search.student_id)
    assert str(found.id) in recorded
    assert "欧阳小雨" not in recorded and "J2024017" not in recorded  # never the typed text
    if how != "uuid":
        assert 'data-testid="student-match"' in html and "matches 1 student" in html


def test_an_unknown_student_matches_nothing_and_says_so(client, world, trail):
    login(client, world.users["supervisor"])
    html = client.get("/audit/", query_string={"student": "无此人"}).get_data(as_text=True)
    assert _objects(html) == set() and "No student matches the student filter" in html
    html = client.get("/audit/queues/denied", query_string={"student": "J2024017"}).get_data(
        as_text=True
    )
    assert _objects(html) == set()  # the found student has no denied entries
    html = client.get(
        "/audit/queues/denied", query_string={"student": _ref(trail["other"])}
    ).get_data(as_text=True)
    assert _objects(html) == {_ref(trail["other"])}
    csv = client.get("/audit/export.csv", query_string={"student": "J2024017"})
    assert csv.status_code == 200 and "m-0" in csv.get_data(as_text=True)
    assert "m-2" not in csv.get_data(as_text=True)
