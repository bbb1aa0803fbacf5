"""The screening coverage report against counts worked out by hand (issue 16 items 1 and 7):
the data set is described in ``coverage_data``; every expected number below is a literal."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import uuid

import pytest
from sqlalchemy import select

from wellbeing.audit.queries import EXPORT_ACTIONS
from wellbeing.auth.sessions import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.jobs import JobContext
from wellbeing.db import utcnow
from wellbeing.reports.catalog import ReportFilters, specs
from wellbeing.reports.jobs import coverage_tally
from wellbeing.reports.library import coverage
from wellbeing.reports.models import CoverageTally, NamedExport
from wellbeing.reports.named import csv_text
from wellbeing.reports.tables import publish_table

from ..conftest import login
from . import coverage_data

SCREENED, MISSING, VOIDED, INCOMPLETE = 0, 1, 2, 3
UNSCREENED_A = [
    ["安静", "Grade 7, class 1"], ["白雪", "Grade 7, class 2"], ["陈明", "Grade 7, class 1"],
    ["张三", "Grade 7, class 1"], ["赵六", "Grade 7, class 2"],
]  # fmt: skip


@pytest.fixture
def world(db_session, env, app, monkeypatch):  # type: ignore[no-untyped-def]
    # The threshold of the test settings: 2 (so the small data set has cells to hide).
    settings = dataclasses.replace(app.extensions["wellbeing.settings"], suppression_threshold=2)
    monkeypatch.setitem(app.extensions, "wellbeing.settings", settings)
    return coverage_data.build(db_session, env.settings)


def _filters(env, schools, *, district=False, grade=None, campaign=None):  # type: ignore[no-untyped-def]
    today = utcnow().date()
    return ReportFilters(
        tuple(s.id for s in schools), district, grade, today - dt.timedelta(days=30), today,
        campaign.id if campaign else None, env.settings.tz, utcnow(),
    )  # fmt: skip


def _raw(page):  # type: ignore[no-untyped-def]
    return {path: counts for path, counts in page.tables[0].rows}


def test_the_report_is_in_the_catalog() -> None:
    assert specs()["coverage"].filters == ("school", "grade", "campaign")


def test_one_school_by_class_counts_by_hand(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a, c = world.school_a, world.classes
    with app.test_request_context():
        principal = build_principal(db_session, world.users["school_leader"])
        page = coverage.build(db_session, principal, _filters(env, [a]))
        table = page.tables[0]
        assert table.key == "coverage.by_class" and table.show_depth == 3
        assert [path for path, _c in table.rows] == [
            (a.id, 7, c["a7_1"].id), (a.id, 7, c["a7_2"].id), (a.id, 8, c["a8_1"].id),
        ]  # fmt: skip
        assert _raw(page) == {
            (a.id, 7, c["a7_1"].id): [3, 1, 1, 1],
            (a.id, 7, c["a7_2"].id): [1, 1, 0, 1],
            (a.id, 8, c["a8_1"].id): [2, 0, 0, 0],
        }
        assert table.labels[(a.id,)] == "甲校" and table.labels[(a.id, 7)] == "Grade 7"
        assert table.labels[(a.id, 7, c["a7_2"].id)] == "Grade 7, class 2"
        assert table.school_ids == {a.id}
        assert "Autumn" in page.notes[0]
        assert page.named is None  # the school leader sees no names


def test_the_grade_filter_and_the_district_view(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world.school_a, world.school_b
    with app.test_request_context():
        principal = build_principal(db_session, world.users["counsellor"])
        page = coverage.build(db_session, principal, _filters(env, [a, b], district=True))
        assert page.tables[0].key == "coverage.by_school" and page.tables[0].show_depth == 1
        assert _raw(page) == {(a.id,): [6, 2, 1, 2], (b.id,): [1, 1, 0, 0]}
        assert [p for p, _c in page.tables[0].rows] == [(a.id,), (b.id,)]  # 甲 jia < 乙 yi
        assert page.named is None
        eighth = coverage.build(db_session, principal, _filters(env, [a], grade=8))
        assert _raw(eighth) == {(a.id, 8, world.classes["a8_1"].id): [2, 0, 0, 0]}
        ninth = coverage.build(db_session, principal, _filters(env, [a], grade=9))
        assert _raw(ninth) == {}  # grade 9 is not a grade of the campaign


def test_the_default_campaign_is_the_latest_that_opened(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a = world.school_a
    with app.test_request_context():
        principal = build_principal(db_session, world.users["school_leader"])
        chosen = coverage.campaign_for(db_session, (a.id,), _filters(env, [a]))
        assert chosen is not None and chosen.id == world.campaign.id
        older = coverage.build(db_session, principal, _filters(env, [a], campaign=world.older))
        # The spring campaign (PHQ-9, grades 7-9) had no answers: everyone enrolled is missing.
        assert sorted(counts for _p, counts in older.tables[0].rows) == [
            [0, 1, 0, 0], [0, 2, 0, 0], [0, 3, 0, 0], [0, 6, 0, 0],
        ]  # fmt: skip
        # School B takes no part in the spring campaign: it is not counted.
        b_only = coverage.campaign_for(
            db_session, (world.school_b.id,), _filters(env, [world.school_b], campaign=world.older)
        )
        assert b_only is None


def test_a_school_leader_sees_small_cells_hidden(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context():
        leader = build_principal(db_session, world.users["school_leader"])
        page = coverage.build(db_session, leader, _filters(env, [world.school_a]))
        published = publish_table(leader, page.tables[0])
        assert published.threshold == 2 and published.hidden
        raw = [counts for _p, counts in page.tables[0].rows]
        for line, counts in zip(published.lines, raw, strict=True):
            for shown, value, number in zip(line.cells, line.values, counts, strict=True):
                if number == 1:
                    assert shown == "<2" and value is None
                elif value is not None:
                    assert value == number and shown == str(number)
        # Shares of hidden cells are hidden; the class 1 share is 3 of 6 unless hidden.
        assert published.lines[0].shares[0] in {"50.0%", "—"}


def test_the_psych_teacher_sees_counts_and_the_names(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context():
        teacher = build_principal(db_session, world.users["psych_teacher"])
        page = coverage.build(db_session, teacher, _filters(env, [world.school_a]))
        published = publish_table(teacher, page.tables[0])
        assert published.threshold is None and not published.hidden
        assert [line.cells for line in published.lines] == [
            ["3", "1", "1", "1"], ["1", "1", "0", "1"], ["2", "0", "0", "0"],
        ]  # fmt: skip
        assert [line.shares for line in published.lines] == [["50.0%"], ["33.3%"], ["100.0%"]]
        assert published.total.cells == ["6", "2", "1", "2"] and published.total.total == "11"
        assert page.named is not None and page.named.rows == UNSCREENED_A
        assert page.named.head == ["Name", "Class"]
        assert page.named.export_endpoint == "reports_named.unscreened"
        s = world.students
        assert set(page.named.student_ids) == {
            s[n].id for n in ("安静", "白雪", "陈明", "张三", "赵六")
        }
        # Not in the district view, and never for another school's psychology teacher.
        district = coverage.build(
            db_session, teacher, _filters(env, [world.school_a], district=True)
        )
        assert district.named is None
        other = build_principal(db_session, world.users["psych_teacher_b"])
        assert coverage.build(db_session, other, _filters(env, [world.school_a])).named is None
        # Their own school B: 何三 is missing.
        own_b = coverage.build(db_session, other, _filters(env, [world.school_b]))
        assert own_b.named is not None and own_b.named.rows == [["何三", "Grade 7, class 1"]]


def _export_url(world) -> str:  # type: ignore[no-untyped-def]
    return f"/reports/coverage/unscreened?school={world.school_a.id}&campaign={world.campaign.id}"


def test_the_export_needs_a_reason(client, db_session, world, audit_entries) -> None:  # type: ignore[no-untyped-def]
    login(client, world.users["psych_teacher"])
    form = client.get(_export_url(world))
    assert form.status_code == 200 and 'name="reason"' in form.get_data(as_text=True)
    refused = client.post(_export_url(world), data={"reason": "   "})
    assert refused.status_code == 400
    assert "Write why you need the list of names." in refused.get_data(as_text=True)
    assert audit_entries(AuditAction.UNSCREENED_EXPORT) == []


def test_the_export_is_a_csv_audited_for_the_supervisors(
    client, db_session, world, audit_entries
) -> None:  # type: ignore[no-untyped-def]
    login(client, world.users["psych_teacher"])
    response = client.post(_export_url(world), data={"reason": "补测安排：通知班主任"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows == [["Name", "Class"], *UNSCREENED_A]
    [entry] = audit_entries(AuditAction.UNSCREENED_EXPORT)
    assert entry.action in EXPORT_ACTIONS  # the supervisors' export review queue
    assert entry.school_id == world.school_a.id and entry.object_type == "report_named_export"
    s = world.students
    assert sorted(entry.detail["students"]) == sorted(
        str(s[n].id) for n in ("安静", "白雪", "陈明", "张三", "赵六")
    )
    assert entry.detail["rows"] == 5 and "补测" not in str(entry.detail)
    row = db_session.get(NamedExport, uuid.UUID(entry.object_id))
    assert row is not None
    assert row.reason == "补测安排：通知班主任" and row.rows == 5


def test_only_the_psych_teacher_of_the_school_may_export(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    for role in ("school_leader", "psych_teacher_b", "counsellor"):
        login(client, world.users[role])
        assert client.get(_export_url(world)).status_code == 403, role
        assert client.post(_export_url(world), data={"reason": "need it"}).status_code == 403, role


def test_cells_a_spreadsheet_would_run_are_neutralised() -> None:
    text = csv_text(["Name", "Class"], [["=HYPERLINK(1)", "+1"], ["-2", "@x"], ["王一", "1班"]])
    assert text.startswith("\ufeff")
    assert text[1:].splitlines() == ["Name,Class", "'=HYPERLINK(1),'+1", "'-2,'@x", "王一,1班"]


def test_the_district_view_reads_the_jobs_tally(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world.school_a, world.school_b
    counted_at = utcnow()
    assert coverage_tally(JobContext(db=env.db, settings=env.settings, now=counted_at)) >= 3
    db_session.expire_all()
    rows = {
        (t.school_id, t.grade): [t.screened, t.missing, t.voided, t.incomplete]
        for t in db_session.scalars(
            select(CoverageTally).where(CoverageTally.campaign_id == world.campaign.id)
        )
    }
    assert rows == {
        (a.id, 7): [4, 2, 1, 2], (a.id, 8): [2, 0, 0, 0], (b.id, 7): [1, 1, 0, 0],
    }  # fmt: skip
    # 陈明 answers both questionnaires after the count.
    coverage_data.respond(db_session, world.campaign, world.students["陈明"], "phq9")
    coverage_data.respond(db_session, world.campaign, world.students["陈明"], "gad7")
    db_session.flush()
    with app.test_request_context():
        counsellor = build_principal(db_session, world.users["counsellor"])
        district = coverage.build(db_session, counsellor, _filters(env, [a, b], district=True))
        assert _raw(district) == {(a.id,): [6, 2, 1, 2], (b.id,): [1, 1, 0, 0]}  # the tally
        assert any(note.startswith("Counted at") for note in district.notes)
        eighth = coverage.build(
            db_session, counsellor, _filters(env, [a, b], district=True, grade=8)
        )
        assert _raw(eighth) == {(a.id,): [2, 0, 0, 0]}
        school = coverage.build(db_session, counsellor, _filters(env, [a]))  # always live
        assert _raw(school)[(a.id, 7, world.classes["a7_1"].id)] == [4, 0, 1, 1]
        # Two hours and more after the count, an open campaign is counted live again.
        later = dataclasses.replace(
            _filters(env, [a, b], district=True), now=counted_at + dt.timedelta(hours=3)
        )
        live = coverage.build(db_session, counsellor, later)
        assert _raw(live) == {(a.id,): [7, 1, 1, 2], (b.id,): [1, 1, 0, 0]}
        assert not any(note.startswith("Counted at") for note in live.notes)
    coverage_tally(JobContext(db=env.db, settings=env.settings, now=utcnow()))
    db_session.expire_all()
    with app.test_request_context():
        again = coverage.build(db_session, counsellor, _filters(env, [a, b], district=True))
        assert _raw(again) == {(a.id,): [7, 1, 1, 2], (b.id,): [1, 1, 0, 0]}
