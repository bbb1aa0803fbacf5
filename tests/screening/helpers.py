"""Shared set-up of the screening tests: a school with students and an open campaign."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from wellbeing.db import utcnow
from wellbeing.screening.services import create_campaign

from ..factories import make_class, make_school, make_student

PHQ = [f"phq9_{n}" for n in range(1, 10)]
GAD = [f"gad7_{n}" for n in range(1, 8)]


def today() -> dt.date:
    return utcnow().date()


def open_campaign(session, schools, instruments=("phq9", "gad7"), grades=range(4, 13), **kw):  # type: ignore[no-untyped-def]
    return create_campaign(
        session, None, name=kw.pop("name", "Spring screening"), instruments=list(instruments), schools=list(schools),
        grades=list(grades), opens_on=kw.pop("opens_on", today() - dt.timedelta(days=1)),
        closes_on=kw.pop("closes_on", today() + dt.timedelta(days=30)), **kw,
    )  # fmt: skip


def school_with_students(session, n: int = 4, grade: int = 7, school=None):  # type: ignore[no-untyped-def]
    school = school or make_school(session)
    klass = make_class(session, school, grade=grade)
    students = [
        make_student(session, school, klass, student_number=f"{school.code}-{i:03d}")
        for i in range(n)
    ]
    return school, klass, students


def write_csv(
    path: Path, header: list[str], rows: list[list[Any]], encoding: str = "utf-8"
) -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def phq(total_first: int = 0, item9: int = 0) -> list[int]:
    """PHQ-9 answers: items 1–8 spread to reach ``total_first`` (≤ 24), item 9 as given."""
    values = [0] * 8
    remaining = total_first
    for i in range(8):
        values[i] = min(3, remaining)
        remaining -= values[i]
    return [*values, item9]


def gad(total: int = 0) -> list[int]:
    values = [0] * 7
    remaining = total
    for i in range(7):
        values[i] = min(3, remaining)
        remaining -= values[i]
    return values
