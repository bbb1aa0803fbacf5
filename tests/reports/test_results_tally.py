"""The campaign results page of the district from the job's tally (issue 16 item 6): the job
publishes the whole district's class-level table (suppressed, as text) every quarter of an
hour; the page reads it when fresh and says when it was counted, counts live when it is stale;
one school's page shows that school's lines of the same district pattern; no raw count below
the threshold is ever stored."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from wellbeing.core.authz import Role
from wellbeing.core.jobs import JobContext
from wellbeing.db import utcnow
from wellbeing.reports.jobs import results_tally
from wellbeing.reports.models import ResultsTally
from wellbeing.screening.services import create_campaign

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user
from .coverage_data import respond

# (school, grade, class): the PHQ-9 tier of each student (0 well, 1 yellow, 2 orange, 3 red).
# 甲校's 12 orange students are shown on its own but hidden in the district's table: 乙校's one
# orange student would otherwise be its total less 甲校's.
CLASSES = {
    ("甲校", 7, "1班"): [0] * 14 + [1] * 3 + [3],
    ("甲校", 7, "2班"): [0] * 11 + [1] * 2,
    ("甲校", 8, "1班"): [0] * 12 + [2] * 12,
    ("乙校", 7, "1班"): [0] * 15 + [1] * 4,
    ("乙校", 8, "1班"): [0] * 10 + [1, 2] + [3] * 2,
}
BANDS = {0: "minimal", 1: "mild", 2: "moderate", 3: "severe"}


@pytest.fixture
def district(db_session, env):  # type: ignore[no-untyped-def]
    today = utcnow().date()
    schools = {name: make_school(db_session, name=name) for name in ("甲校", "乙校")}
    campaign = create_campaign(
        db_session, None, name="Autumn", instruments=["phq9"], schools=list(schools.values()),
        grades=[7, 8], opens_on=today - dt.timedelta(days=10),
        closes_on=today + dt.timedelta(days=20),
    )  # fmt: skip
    for (school, grade, label), tiers in CLASSES.items():
        klass = make_class(db_session, schools[school], grade, label)
        for tier in tiers:
            student = make_student(db_session, schools[school], klass)
            response = respond(db_session, campaign, student, "phq9")
            response.tier, response.total_band = tier, BANDS[tier]
            response.critical = tier == 3
    db_session.flush()
    a = schools["甲校"]
    users = {
        "counsellor": make_user(db_session, env.settings, Role.COUNSELLOR),
        "leader": make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=a),
        "psych": make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=a),
    }
    return campaign, schools, users


def _tally(env, db_session, now):  # type: ignore[no-untyped-def]
    written = results_tally(JobContext(db=env.db, settings=env.settings, now=now))
    db_session.expire_all()
    return written


def _page(client, user, campaign, by):  # type: ignore[no-untyped-def]
    login(client, user)
    response = client.get(f"/screening/campaigns/{campaign.id}/results?by={by}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _rows(html: str, part: str = "tbody") -> list[list[str]]:
    """The text of every cell of each row of the results table's body (or foot)."""
    table = html[html.index('id="results"') :]
    body = table[table.index(f"<{part}>") : table.index(f"</{part}>")]
    return [
        [
            re.sub(r"<[^>]+>", " ", cell).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)
        ]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _stored(db_session, campaign):  # type: ignore[no-untyped-def]
    return sorted(
        (
            (str(t.school_id), t.position, t.threshold, t.hidden, t.cells)
            for t in db_session.scalars(
                select(ResultsTally).where(ResultsTally.campaign_id == campaign.id)
            )
        ),
        key=lambda row: row[1],
    )


def test_the_job_is_idempotent(db_session, env, district) -> None:  # type: ignore[no-untyped-def]
    campaign, _schools, _users = district
    now = utcnow()
    assert _tally(env, db_session, now) >= 3  # two schools and the district's total
    first = _stored(db_session, campaign)
    assert len(first) == 3
    assert _tally(env, db_session, now) >= 3
    assert _stored(db_session, campaign) == first


def test_no_raw_small_count_is_stored(db_session, env, district) -> None:  # type: ignore[no-untyped-def]
    campaign, _schools, _users = district
    _tally(env, db_session, utcnow())
    texts: list[str] = []

    def collect(line):  # type: ignore[no-untyped-def]
        texts.extend([*line["tiers"], line["screened"], line["critical"]])
        texts.extend(text for pairs in line["bands"].values() for _band, text in pairs)

    for _sid, _pos, threshold, _hidden, cells in _stored(db_session, campaign):
        assert threshold == 10
        for lines in cells.values():
            for line in lines if isinstance(lines, list) else [lines]:
                collect(line)
    assert "<10" in texts and texts  # the red students of a class are hidden
    numbers = [int(t) for t in texts if t.isdigit()]
    assert all(n == 0 or n >= 10 for n in numbers), numbers
    assert set(texts) - {str(n) for n in numbers} <= {"<10", "*"}


def test_the_district_page_reads_the_fresh_tally_and_says_when(  # type: ignore[no-untyped-def]
    client, db_session, env, district
) -> None:
    campaign, _schools, users = district
    live = _rows(_page(client, users["counsellor"], campaign, "class"))
    _tally(env, db_session, utcnow())
    html = _page(client, users["counsellor"], campaign, "class")
    assert (
        'id="counted-at"' in html and "recounted every 15 minutes" in html
    )  # ngettext: the plural
    assert _rows(html) == live  # the same pattern as counted live
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    html = _page(client, users["counsellor"], campaign, "class")
    assert "每 15 分钟重新统计一次" in html


def test_the_tally_is_what_the_page_shows(client, db_session, env, district) -> None:  # type: ignore[no-untyped-def]
    """A response after the count is not on the page until the next count (read from the
    tally, not counted live)."""
    campaign, schools, users = district
    _tally(env, db_session, utcnow())
    before = _rows(_page(client, users["counsellor"], campaign, "school"), "tfoot")
    klass = make_class(db_session, schools["乙校"], 7, "9班")
    for _ in range(12):
        respond(db_session, campaign, make_student(db_session, schools["乙校"], klass), "phq9")
    db_session.flush()
    html = _page(client, users["counsellor"], campaign, "school")
    assert _rows(html, "tfoot") == before and 'id="counted-at"' in html


def test_a_stale_tally_is_not_read(client, db_session, env, district) -> None:  # type: ignore[no-untyped-def]
    campaign, _schools, users = district
    _tally(env, db_session, utcnow() - dt.timedelta(hours=3))
    html = _page(client, users["counsellor"], campaign, "class")
    assert 'id="counted-at"' not in html and "&lt;10" in html


def test_a_tally_taken_after_the_campaign_closed_stays(  # type: ignore[no-untyped-def]
    client, db_session, env, district
) -> None:
    campaign, _schools, users = district
    campaign.opens_on = utcnow().date() - dt.timedelta(days=30)
    campaign.closes_on = utcnow().date() - dt.timedelta(days=5)
    db_session.flush()
    _tally(env, db_session, utcnow() - dt.timedelta(days=2))
    assert 'id="counted-at"' in _page(client, users["counsellor"], campaign, "class")


@pytest.mark.parametrize("by", ["class", "grade", "school"])
def test_one_school_and_the_district_agree_cell_by_cell(  # type: ignore[no-untyped-def]
    client, db_session, env, district, by
) -> None:
    campaign, _schools, users = district
    _tally(env, db_session, utcnow())
    whole = _rows(_page(client, users["counsellor"], campaign, by))
    own = _page(client, users["leader"], campaign, by)
    assert 'id="counted-at"' in own
    assert _rows(own) == [row for row in whole if row[0].startswith("甲校")]
    schools = _rows(_page(client, users["counsellor"], campaign, "school"))
    school_line = next(row for row in schools if row[0].startswith("甲校"))
    assert _rows(own, "tfoot")[0][1:] == school_line[1:]  # its total is its district line


def test_live_one_school_pages_would_not_agree(client, db_session, env, district) -> None:  # type: ignore[no-untyped-def]
    """Why the one-school page reads the tally: suppressed alone, school A's table hides other
    cells than the district's pattern does, and the two pages together would give numbers
    away."""
    campaign, _schools, users = district
    whole = _rows(_page(client, users["counsellor"], campaign, "class"))
    html = _page(client, users["leader"], campaign, "class")
    assert 'id="counted-at"' not in html  # no tally: counted live, on its own
    assert _rows(html) != [row for row in whole if row[0].startswith("甲校")]
    assert _rows(html, "tfoot")[0][4] == "12"  # its orange students, hidden in the district


def test_the_case_worker_sees_the_counts_live(client, db_session, env, district) -> None:  # type: ignore[no-untyped-def]
    campaign, _schools, users = district
    _tally(env, db_session, utcnow())
    html = _page(client, users["psych"], campaign, "class")
    assert 'id="counted-at"' not in html and "&lt;10" not in html
    first = _rows(html)[0]
    assert (
        first[0].startswith("甲校")
        and first[1:3] == ["Grade 7", "Grade 7, class 1"]
        and "1" in first
    )
