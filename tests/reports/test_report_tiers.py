"""The tiers report against counts worked out by hand (issue 16 items 1 and 7); the data set is
described in ``tiers_data``, every expected number below is a literal."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from wellbeing.auth.sessions import build_principal
from wellbeing.reports.catalog import specs
from wellbeing.reports.library import tiers
from wellbeing.reports.snapshots import take_snapshot
from wellbeing.reports.tables import publish_table

from . import tiers_data

OCT = dt.datetime(2026, 10, 15, 4, 0, tzinfo=dt.UTC)  # 12:00 on 15 October in Shanghai
NOV = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(db_session, env, app, monkeypatch):  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(app.extensions["wellbeing.settings"], suppression_threshold=2)
    monkeypatch.setitem(app.extensions, "wellbeing.settings", settings)
    return tiers_data.build(db_session, env.settings)


def _autumn(env, schools, **kw):  # type: ignore[no-untyped-def]
    return tiers_data.filters(
        env.settings, schools, start=dt.date(2026, 9, 1), end=dt.date(2026, 12, 31), **kw
    )


def _raw(table):  # type: ignore[no-untyped-def]
    return {path: counts for path, counts in table.rows}


def test_the_report_is_in_the_catalog() -> None:
    assert specs()["tiers"].filters == ("school", "grade", "period")


def test_one_school_by_grade_now(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a = world.school_a
    with app.test_request_context():
        leader = build_principal(db_session, world.users["school_leader"])
        page = tiers.build(db_session, leader, _autumn(env, [a]))
        now, history = page.tables
        assert now.key == "tiers.by_grade" and now.show_depth == 2
        assert now.rows == [((a.id, 7), [3, 1, 1, 0]), ((a.id, 8), [2, 0, 0, 1])]
        assert now.columns == ["Green", "Yellow", "Orange", "Red"]
        assert now.labels == {(a.id,): "甲校", (a.id, 7): "Grade 7", (a.id, 8): "Grade 8"}
        assert history.key == "tiers.by_month" and history.chart == "lines"
        assert history.rows == []  # no snapshot yet
        seventh = tiers.build(db_session, leader, _autumn(env, [a], grade=7)).tables[0]
        assert seventh.rows == [((a.id, 7), [3, 1, 1, 0])]


def test_the_district_by_school_now(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world.school_a, world.school_b
    with app.test_request_context():
        counsellor = build_principal(db_session, world.users["counsellor"])
        now = tiers.build(db_session, counsellor, _autumn(env, [a, b], district=True)).tables[0]
        assert now.key == "tiers.by_school" and now.show_depth == 1
        assert _raw(now) == {(a.id,): [5, 1, 1, 1], (b.id,): [2, 1, 0, 0]}
        assert [p for p, _c in now.rows] == [(a.id,), (b.id,)]  # by pinyin: 甲 jia < 乙 yi


def test_month_by_month_from_the_snapshots(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world.school_a, world.school_b
    take_snapshot(db_session, OCT, env.settings.tz)
    world.red_in_a8.school_id, world.red_in_a8.class_id = b.id, world.classes["b8"].id
    db_session.flush()
    take_snapshot(db_session, NOV, env.settings.tz)
    with app.test_request_context():
        counsellor = build_principal(db_session, world.users["counsellor"])
        history = tiers.build(db_session, counsellor, _autumn(env, [a])).tables[1]
        assert history.rows == [(("2026-10",), [5, 1, 1, 1]), (("2026-11",), [5, 1, 1, 0])]
        assert history.labels == {("2026-10",): "2026-10", ("2026-11",): "2026-11"}
        both = tiers.build(db_session, counsellor, _autumn(env, [a, b], district=True)).tables[1]
        assert both.rows == [(("2026-10",), [7, 2, 1, 1]), (("2026-11",), [7, 2, 1, 1])]
        eighth = tiers.build(db_session, counsellor, _autumn(env, [b], grade=8)).tables[1]
        assert eighth.rows == [(("2026-11",), [0, 0, 0, 1])]  # B had no grade 8 in October
        october = tiers_data.filters(
            env.settings, [a], start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31)
        )
        assert tiers.build(db_session, counsellor, october).tables[1].rows == [
            (("2026-10",), [5, 1, 1, 1])
        ]


def test_a_school_leader_sees_small_cells_hidden(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context():
        leader = build_principal(db_session, world.users["school_leader"])
        now = tiers.build(db_session, leader, _autumn(env, [world.school_a])).tables[0]
        published = publish_table(leader, now)
        assert published.threshold == 2 and published.hidden
        for line, (_path, counts) in zip(published.lines, now.rows, strict=True):
            for shown, value, number in zip(line.cells, line.values, counts, strict=True):
                if number == 1:
                    assert shown == "<2" and value is None
                elif value is not None:
                    assert value == number
        teacher = build_principal(db_session, world.users["psych_teacher"])
        seen = publish_table(teacher, now)
        assert seen.threshold is None
        assert [line.cells for line in seen.lines] == [["3", "1", "1", "0"], ["2", "0", "0", "1"]]
        assert seen.total.total == "8" and seen.lines[0].shares == ["20.0%", "0.0%"]
