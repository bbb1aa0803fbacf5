"""What the hand-computed report tests share: the filters of November 2026 in Shanghai, a
suppression threshold of 2, and the published table as text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from wellbeing.reports.catalog import ReportFilters
from wellbeing.reports.tables import ReportTable

UTC = dt.UTC
TZ = ZoneInfo("Asia/Shanghai")
# The period: November 2026, local dates; it runs from 2026-10-31 16:00 UTC to 2026-11-30
# 16:00 UTC (exclusive).
START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
NOW = dt.datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 on 1 December in Shanghai


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def filters(
    *school_ids: uuid.UUID,
    district: bool,
    grade: int | None = None,
    start: dt.date = START,
    end: dt.date = END,
    now: dt.datetime = NOW,
) -> ReportFilters:
    return ReportFilters(
        school_ids=tuple(school_ids), district=district, grade=grade, start=start, end=end,
        campaign_id=None, tz=TZ, now=now,
    )  # fmt: skip


@pytest.fixture
def threshold_two(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The district's threshold set to 2 (the smallest allowed), so that a small data set
    shows both hidden and visible cells."""
    settings = app.extensions["wellbeing.settings"]
    monkeypatch.setitem(
        app.extensions, "wellbeing.settings",
        dataclasses.replace(settings, suppression_threshold=2),
    )  # fmt: skip


def raw(table: ReportTable) -> dict[tuple[object, ...], list[int]]:
    return {path: counts for path, counts in table.rows}
