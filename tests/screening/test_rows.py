"""The intake's driver layer: ids it makes without ``uuid.UUID``, and the stored form."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from wellbeing.screening.intake.importer import import_file
from wellbeing.screening.intake.rows import new_ids
from wellbeing.screening.models import Response

from .helpers import GAD, PHQ, gad, open_campaign, phq, school_with_students, write_csv


@given(st.integers(min_value=0, max_value=300), st.booleans())
def test_new_ids_are_canonical_version_4_uuids(count: int, hex_keys: bool) -> None:
    ids = new_ids(count, hex_keys=hex_keys)
    assert len(ids) == count == len({text for _, text in ids})
    for key, text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and key == (parsed.hex if hex_keys else text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_imported_rows_read_back_through_the_orm(db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What the driver wrote (keys, flags, JSON, timestamps, ciphertext bound to the id) is
    what the ORM reads and decrypts, on both backends."""
    school, _klass, students = school_with_students(db_session, 2)
    campaign = open_campaign(db_session, [school])
    rows = [
        [students[0].student_number, *phq(3, item9=1), *gad(1)],
        [students[1].student_number, *phq(0), *gad(0)],
    ]
    report = import_file(
        db_session,
        None,
        campaign,
        write_csv(tmp_path / "r.csv", ["student_number", *PHQ, *GAD], rows),
    )
    assert report.ok and report.created == 4
    db_session.expire_all()
    stored = {
        (r.student_id, r.instrument): r
        for r in db_session.scalars(select(Response).where(Response.campaign_id == campaign.id))
    }
    first = stored[(students[0].id, "phq9")]
    assert first.data["answers"]["phq9_1"] == 3 and first.data["scores"]
    assert first.school_id == school.id and first.grade == students[0].grade
    assert first.critical is True and first.voided is False and first.source == "file"
    assert first.bands and first.created_at.tzinfo is not None
    calm = stored[(students[1].id, "gad7")]
    assert calm.critical is False and calm.data["answers"]["gad7_1"] == 0


def test_import_gives_the_connection_its_page_cache_back(db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The 128 MiB SQLite page cache is for the import only: pooled connections of a web
    server must not keep it."""
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL has no per-connection page cache to give back")
    school, _klass, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    pragma = "PRAGMA cache_size"
    before = db_session.connection().exec_driver_sql(pragma).scalar()
    rows = [[students[0].student_number, *phq(1), *gad(1)]]
    report = import_file(
        db_session,
        None,
        campaign,
        write_csv(tmp_path / "r.csv", ["student_number", *PHQ, *GAD], rows),
    )
    assert report.ok and report.created == 2
    assert db_session.connection().exec_driver_sql(pragma).scalar() == before != -131072
