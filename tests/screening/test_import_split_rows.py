"""A student's answers on several rows, one instrument per row (as survey platforms export
them): the tier decision is the highest over the rows, whatever the order and whether the rows
fall in one batch or several; each student is counted once in the summary."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from wellbeing.alerts.models import Alert
from wellbeing.crisis.models import Crisis
from wellbeing.screening.intake import importer
from wellbeing.students.models import Student

from .helpers import GAD, PHQ, gad, open_campaign, phq, school_with_students, write_csv

HEADER = ["student_number", *PHQ, *GAD]
BLANK_PHQ, BLANK_GAD = [""] * len(PHQ), [""] * len(GAD)


@pytest.mark.parametrize("batch", [4000, 1], ids=["one batch", "a batch per row"])
@pytest.mark.parametrize("red_first", [True, False], ids=["red row first", "red row last"])
def test_split_rows_decide_the_highest_tier(db_session, tmp_path, monkeypatch, batch, red_first):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(importer, "BATCH", batch)
    school, _klass, students = school_with_students(db_session, 2)
    campaign = open_campaign(db_session, [school])
    number = students[0].student_number
    red = [number, *phq(3, item9=2), *BLANK_GAD]  # critical item: red
    calm = [number, *BLANK_PHQ, *gad(0)]
    other = [students[1].student_number, *phq(12), *gad(0)]  # yellow, on one row
    rows = [red, calm, other] if red_first else [calm, other, red]
    report = importer.import_file(
        db_session, None, campaign, write_csv(tmp_path / "s.csv", HEADER, rows)
    )
    assert report.ok, report.errors
    assert report.created == 4 and report.critical == 1
    assert report.tiers == [0, 1, 0, 1]  # each student once, at their highest tier
    db_session.expire_all()
    assert db_session.get(Student, students[0].id).tier == 3
    assert db_session.scalars(select(Crisis.student_id)).all() == [students[0].id]
    assert [a.student_id for a in db_session.scalars(select(Alert))] == [students[0].id]


def test_a_repeated_instrument_names_the_row_that_first_gave_it(db_session, tmp_path):  # type: ignore[no-untyped-def]
    school, _klass, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    number = students[0].student_number
    rows = [
        [number, *phq(1), *BLANK_GAD],  # row 2: PHQ-9
        [number, *BLANK_PHQ, *gad(1)],  # row 3: GAD-7
        [number, *BLANK_PHQ, *gad(2)],  # row 4: GAD-7 again
    ]
    report = importer.import_file(
        db_session, None, campaign, write_csv(tmp_path / "d.csv", HEADER, rows)
    )
    assert [str(e) for e in report.errors] == [
        "row 4, column student_number: duplicate student (first seen on row 3)"
    ]


def test_a_rolled_back_import_leaves_no_events_to_an_enclosing_block(
    db_session, tmp_path, monkeypatch
):  # type: ignore[no-untyped-def]
    """A file with an error is rolled back; what its first batches emitted must not reach an
    enclosing ``events.deferred()`` either (nothing nests one today; nothing may rely on it)."""
    from wellbeing.core import events

    monkeypatch.setattr(importer, "BATCH", 1)
    school, _klass, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    rows = [[students[0].student_number, *phq(3, item9=2), *gad(0)], ["NOPE-1", *phq(0), *gad(0)]]
    with events.deferred() as outer:
        report = importer.import_file(
            db_session, None, campaign, write_csv(tmp_path / "x.csv", HEADER, rows)
        )
        assert not report.ok
        assert outer.count() == 0
    db_session.expire_all()
    assert db_session.get(Student, students[0].id).tier == 0
    assert (
        db_session.scalars(select(Crisis)).all() == []
        and db_session.scalars(select(Alert)).all() == []
    )
