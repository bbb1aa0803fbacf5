"""The monthly tier snapshots (issue 16 item 1): the job writes the current month (one GROUP
BY), re-running it in the same month replaces that month only, a closed month never changes,
so history stays put when a student moves school."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from wellbeing.core.jobs import JobContext
from wellbeing.core.scheduler import collect_jobs
from wellbeing.reports.jobs import tier_snapshot
from wellbeing.reports.models import TierSnapshot
from wellbeing.reports.snapshots import (
    ClosedMonth,
    history,
    months_between,
    seed_past_months,
    shift_month,
    take_snapshot,
)

from . import tiers_data

OCT = dt.datetime(2026, 10, 15, 4, 0, tzinfo=dt.UTC)
OCT_LATER = dt.datetime(2026, 10, 30, 4, 0, tzinfo=dt.UTC)
NOV = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)
# 16:30 UTC on 31 October is 00:30 on 1 November in Shanghai: November's snapshot.
OCT_31_LATE = dt.datetime(2026, 10, 31, 16, 30, tzinfo=dt.UTC)


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    return tiers_data.build(db_session, env.settings)


def _rows(session, school_ids, month):  # type: ignore[no-untyped-def]
    return sorted(
        (str(r.school_id), r.grade, r.tier, r.count)
        for r in session.scalars(
            select(TierSnapshot).where(
                TierSnapshot.month == month, TierSnapshot.school_id.in_(school_ids)
            )
        )
    )


def _by_school(session, world, month):  # type: ignore[no-untyped-def]
    ids = [world.school_a.id, world.school_b.id]
    return {
        "A": history(session, [world.school_a.id], [month]).get(month),
        "B": history(session, [world.school_b.id], [month]).get(month),
        "rows": len(_rows(session, ids, month)),
    }


def _job(env, now):  # type: ignore[no-untyped-def]
    return tier_snapshot(JobContext(db=env.db, settings=env.settings, now=now))


def test_the_job_is_scheduled() -> None:
    job = next(j for j in collect_jobs() if j.id == "reports.tier_snapshot")
    assert job.func == "wellbeing.reports.jobs:tier_snapshot" and job.cron is not None


def test_the_job_counts_the_month_by_school_grade_and_tier(db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    assert _job(env, OCT) >= 7
    db_session.expire_all()
    a, b = str(world.school_a.id), str(world.school_b.id)
    ids = [world.school_a.id, world.school_b.id]
    assert _rows(db_session, ids, "2026-10") == sorted([
        (a, 7, 0, 3), (a, 7, 1, 1), (a, 7, 2, 1), (a, 8, 0, 2), (a, 8, 3, 1),
        (b, 7, 0, 2), (b, 7, 1, 1),
    ])  # fmt: skip
    assert _by_school(db_session, world, "2026-10") == {
        "A": {0: 5, 1: 1, 2: 1, 3: 1}, "B": {0: 2, 1: 1}, "rows": 7,
    }  # fmt: skip


def test_rerunning_in_the_same_month_replaces_it_and_nothing_else(db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    _job(env, OCT)
    _job(env, OCT)  # idempotent: the same counts, no duplicate rows
    db_session.expire_all()
    assert _by_school(db_session, world, "2026-10")["rows"] == 7
    world.yellow_in_a7.tier = 2
    db_session.flush()
    _job(env, OCT_LATER)  # the month is still open: its counts are replaced
    db_session.expire_all()
    assert _by_school(db_session, world, "2026-10") == {
        "A": {0: 5, 2: 2, 3: 1}, "B": {0: 2, 1: 1}, "rows": 6,
    }  # fmt: skip


def test_a_closed_month_does_not_change_when_a_student_moves(db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    _job(env, OCT)
    db_session.expire_all()
    october = _by_school(db_session, world, "2026-10")
    red = world.red_in_a8
    red.school_id, red.class_id = world.school_b.id, world.classes["b8"].id
    db_session.flush()
    _job(env, OCT_31_LATE)  # local time is 1 November: November's snapshot
    db_session.expire_all()
    assert _by_school(db_session, world, "2026-10") == october
    assert _by_school(db_session, world, "2026-11") == {
        "A": {0: 5, 1: 1, 2: 1}, "B": {0: 2, 1: 1, 3: 1}, "rows": 7,
    }  # fmt: skip
    # A clock set back to October must not rewrite the closed month.
    with pytest.raises(ClosedMonth):
        take_snapshot(db_session, OCT_LATER, env.settings.tz)
    assert _job(env, OCT_LATER) == 0
    db_session.expire_all()
    assert _by_school(db_session, world, "2026-10") == october
    _job(env, NOV)
    db_session.expire_all()
    assert _by_school(db_session, world, "2026-10") == october


def test_month_keys() -> None:
    assert months_between(dt.date(2026, 11, 5), dt.date(2027, 2, 1)) == [
        "2026-11", "2026-12", "2027-01", "2027-02",
    ]  # fmt: skip
    assert shift_month("2027-01", -1) == "2026-12" and shift_month("2026-12", 2) == "2027-02"


def test_the_demo_history_fills_past_months_once(db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    assert seed_past_months(db_session, NOV, env.settings.tz, months=3) == 4
    assert seed_past_months(db_session, NOV, env.settings.tz, months=3) == 0
    a = [world.school_a.id]
    months = ["2026-08", "2026-09", "2026-10", "2026-11"]
    got = history(db_session, a, months)
    assert sorted(got) == months
    assert got["2026-11"] == {0: 5, 1: 1, 2: 1, 3: 1}
    # Every made-up month keeps the same students, fewer at orange and red the further back.
    assert all(sum(got[m].values()) == 8 for m in months)
