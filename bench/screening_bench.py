"""Screening import at district scale: 300,000 students × (PHQ-9 + GAD-7) through the real path.

Run: ``.venv/bin/python -m bench.screening_bench [--students 300000] [--schools 200]
[--database-url postgresql+psycopg://...]``

A child process builds a fresh database (migrations, keys), a synthetic district and the CSV
file of one campaign (so its memory does not count); this process then runs
``wellbeing.screening.intake.importer.import_file`` on the file, exactly as ``wellbeing screening
import`` does (validation pass, then scoring, encryption, tier decisions, commit) and prints
total time, responses/s and peak RSS. The raw limit is measured in the same run: Python's
``sqlite3.executemany`` of as many pre-built rows of the same width (same columns, same
ciphertext length) into a bare table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sqlite3
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from .common import bench_database, bench_settings, peak_rss_mb, prepare_in_child

PHQ = [f"phq9_{n}" for n in range(1, 11)]
GAD = [f"gad7_{n}" for n in range(1, 8)]


def _settings(url: str, key_file: Path):  # type: ignore[no-untyped-def]
    return bench_settings(url, key_file, argon2_memory_kib=1024)


def _build(url: str, key_file: str, csv_path: str, students: int, schools: int) -> str:
    from wellbeing import open_keyring
    from wellbeing.cli import initialise
    from wellbeing.core import crypto
    from wellbeing.db import Database
    from wellbeing.orgs.models import School
    from wellbeing.screening.services import create_campaign

    from .synthetic import add_staff, answers, generate_district, iter_students, today

    settings = _settings(url, Path(key_file))
    initialise(settings)
    db = Database(url)

    crypto.install_keyring(open_keyring(db, settings))
    start = time.perf_counter()
    with db.session() as session:
        codes = generate_district(session, students=students, schools=schools)
        staff = add_staff(session, settings)
    print(
        f"district: {students} students in {schools} schools, {staff} staff accounts, written in {time.perf_counter() - start:.1f} s"
    )
    with db.session() as session:
        from sqlalchemy import select

        all_schools = list(session.scalars(select(School).order_by(School.code)))
        day = today()
        campaign = create_campaign(
            session, None, name="Bench screening", instruments=["phq9", "gad7"], schools=all_schools,
            grades=list(range(4, 13)), opens_on=day, closes_on=day, district_wide=True,
        )  # fmt: skip
        campaign_id = str(campaign.id)
    rng = random.Random(7)
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["school_code", "student_number", *PHQ, *GAD])
        for student in iter_students(codes, students):
            phq, gad = answers(rng)
            writer.writerow([student.school_code, student.student_number, *phq, *gad])
    db.dispose()
    return campaign_id


def _raw_limit(count: int, width_sample: dict[str, object], directory: Path) -> float:
    """Seconds for sqlite3.executemany of ``count`` pre-built rows shaped like ``width_sample``."""
    columns = list(width_sample)
    path = directory / "raw.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    defs = ", ".join(f"{c} PRIMARY KEY" if c == "id" else c for c in columns)
    conn.execute(f"CREATE TABLE raw ({defs})")
    sql = f"INSERT INTO raw VALUES ({', '.join('?' for _ in columns)})"

    def value(sample: object) -> object:
        if isinstance(sample, bytes):
            return os.urandom(len(sample))
        if isinstance(sample, str) and len(sample) == 32:
            return uuid.uuid4().hex
        return sample

    elapsed = 0.0
    chunk = 50_000
    conn.execute("BEGIN")
    for start in range(0, count, chunk):
        rows = [
            tuple(value(width_sample[c]) for c in columns) for _ in range(min(chunk, count - start))
        ]
        t0 = time.perf_counter()
        conn.executemany(sql, rows)
        elapsed += time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("COMMIT")
    elapsed += time.perf_counter() - t0
    conn.close()
    return elapsed


def _raw_limit_postgres(url: str, count: int, campaign_id: uuid.UUID) -> float:
    """Seconds for psycopg COPY of ``count`` pre-built rows like the campaign's first response
    into a bare copy of the table (same column types, primary key only), in the same server."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        sample = conn.execute(
            "SELECT * FROM screening_response WHERE campaign_id = %s LIMIT 1", (campaign_id,)
        ).fetchone()
        sample = tuple(json.dumps(v) if isinstance(v, dict) else v for v in sample)
        columns = [
            d.name for d in conn.execute("SELECT * FROM screening_response LIMIT 0").description
        ]
        conn.execute("CREATE TEMP TABLE raw (LIKE screening_response INCLUDING DEFAULTS)")
        conn.execute("ALTER TABLE raw ADD PRIMARY KEY (id)")
        elapsed, chunk = 0.0, 50_000
        for start in range(0, count, chunk):
            rows = [
                tuple(uuid.uuid4() if c == "id" else os.urandom(len(v)) if isinstance(v, bytes) else v
                      for c, v in zip(columns, sample, strict=True))
                for _ in range(min(chunk, count - start))
            ]  # fmt: skip
            t0 = time.perf_counter()
            with conn.cursor().copy(f"COPY raw ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            elapsed += time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.commit()
        return elapsed + time.perf_counter() - t0


def _sample_row(db, campaign_id: uuid.UUID) -> dict[str, object]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM screening_response WHERE campaign_id = :c LIMIT 1"),
            {"c": campaign_id.hex if db.engine.dialect.name == "sqlite" else campaign_id},
        ).mappings().first()  # fmt: skip
    sample: dict[str, object] = {}
    for key, value in dict(row).items():
        if isinstance(value, uuid.UUID):
            value = value.hex
        elif isinstance(value, memoryview):
            value = bytes(value)
        elif not isinstance(value, str | int | float | bytes | type(None)):
            value = str(value)
        sample[key] = value
    return sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300_000)
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (database is recreated)"
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory.")
    parser.add_argument(
        "--without-subscribers", action="store_true",
        help="Detach the other modules' event handlers (alerts, crises, follow-ups) from "
        "TIER_CHANGED and CRITICAL_RESPONSE, to see the screening path's own share.",
    )  # fmt: skip
    args = parser.parse_args(argv)

    directory, key_file, url = bench_database("wellbeing-screening-bench-", args.database_url)
    csv_path = directory / "screening.csv"
    answer = prepare_in_child(
        _build, url, str(key_file), str(csv_path), args.students, args.schools
    )
    if answer is None:
        return 1
    campaign_id = uuid.UUID(answer)

    from wellbeing import modules, open_keyring
    from wellbeing.core import audit
    from wellbeing.db import Database
    from wellbeing.screening.intake.importer import import_file
    from wellbeing.screening.models import Campaign

    modules.import_services()
    if args.without_subscribers:
        from wellbeing.core import events

        events._handlers.clear()
    settings = _settings(url, key_file)
    db = Database(url)
    from wellbeing.core import crypto

    crypto.install_keyring(open_keyring(db, settings))
    audit.set_actor(audit.Actor(username="bench", role="system", scope="bench"))
    rss_before = peak_rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        report = import_file(session, None, campaign, csv_path)
        if not report.ok:
            for error in report.errors[:20]:
                print(error, file=sys.stderr)
            return 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = peak_rss_mb()
    responses = report.created
    with db.engine.connect() as conn:
        made = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("alert", "alert_inbox", "crisis", "followup", "outbox_message")
        }
    sample = _sample_row(db, campaign_id)
    db.dispose()
    raw = _raw_limit(responses, sample, directory)
    raw_pg = _raw_limit_postgres(url, responses, campaign_id) if args.database_url else None

    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"backend: {backend}; students: {args.students}; schools: {args.schools}; file: {csv_path.stat().st_size / 1e6:.1f} MB"
    )
    for line in report.summary_lines():
        print(f"  {line}")
    print(
        f"event subscribers (alerts, crises, follow-ups): {'detached' if args.without_subscribers else 'attached'}"
    )
    print("set off: " + ", ".join(f"{table} {n}" for table, n in made.items()))
    print(
        f"import (validate + score + encrypt + tier + commit): {elapsed:.1f} s wall, {cpu:.1f} s CPU of this process"
    )
    print(f"responses/s: {responses / elapsed:,.0f}")
    print(f"peak RSS: {peak:.0f} MB (before the import: {rss_before:.0f} MB)")
    print(
        f"raw limit (sqlite3.executemany of {responses} rows × {len(sample)} columns): {raw:.1f} s"
    )
    print(f"ratio import / raw limit: {elapsed / raw:.1f}×")
    if raw_pg is not None:
        print(
            f"PostgreSQL raw limit (psycopg COPY of {responses} rows into a bare copy of the table, primary key only): {raw_pg:.1f} s; ratio {elapsed / raw_pg:.1f}×"
        )
    print(
        f"goal ≤ 60 s: {'met' if elapsed <= 60 else 'NOT met'}; peak ≤ 500 MB: {'met' if peak <= 500 else 'NOT met'}"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
