"""The escalation scan after a district screening import: 18,000 open red alerts in 200 schools.

Run: ``.venv/bin/python -m bench.escalation_bench [--students 300000] [--schools 200]
[--alerts 18000] [--minutes 61] [--until-done] [--database-url postgresql+psycopg://.../db]``

A child process builds a fresh database (migrations, keys), a synthetic district
(``bench.synthetic.generate_district``), its staff (``add_staff``: a psychology teacher and a
school leader per school, four district counsellors, the first on duty, all with e-mail
addresses) and raises ``--alerts`` red alerts through ``alerts.bulk.raise_many`` (as a
screening import does), committed. This process then moves the clock ``--minutes`` past the
raise (61: every alert is due for its second rung, the school leader) and runs
``alerts.services.escalation_scan`` once, in one transaction as the scheduler job does
(``--until-done``: again, each in its own transaction, until nothing is due, as successive
scheduler ticks would).

Printed: wall time, alerts escalated and alerts/s, steps, SQL statements seen by SQLAlchemy (an
executemany counts once; COPY through the driver is not seen), rows written per table, e-mails
queued, audit entries, peak RSS of this process (the set-up's memory is the child's), and the
raw limit measured in the same run: ``sqlite3.executemany`` (SQLite) or psycopg ``COPY``
(PostgreSQL) of as many AlertStep-shaped rows into a bare table with a primary key.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from .common import bench_database, bench_settings, peak_rss_mb, prepare_in_child

TABLES = ("alert_step", "alert_inbox", "alert_recipient", "outbox_message", "audit_entry")


def _settings(url: str, key_file: Path):  # type: ignore[no-untyped-def]
    return bench_settings(url, key_file, argon2_memory_kib=1024)


def _build(url: str, key_file: str, args: argparse.Namespace) -> str:
    from wellbeing import modules, open_keyring
    from wellbeing.alerts.bulk import AlertRequest, raise_many
    from wellbeing.cli import initialise
    from wellbeing.core import crypto
    from wellbeing.db import Database, utcnow
    from wellbeing.students.models import Student

    from .synthetic import add_staff, generate_district

    settings = _settings(url, Path(key_file))
    initialise(settings)
    modules.import_services()
    db = Database(url)

    crypto.install_keyring(open_keyring(db, settings))
    start = time.perf_counter()
    with db.session() as session:
        generate_district(session, students=args.students, schools=args.schools)
        staff = add_staff(session, settings)
    print(f"district: {args.students} students in {args.schools} schools, {staff} staff accounts, "
          f"written in {time.perf_counter() - start:.1f} s")  # fmt: skip
    now = utcnow()
    start = time.perf_counter()
    with db.session() as session:
        by_school: dict[uuid.UUID, list[uuid.UUID]] = {}
        for student_id, school_id in session.execute(select(Student.id, Student.school_id)):
            by_school.setdefault(school_id, []).append(student_id)
        schools = sorted(by_school)
        requests = []
        for n in range(args.alerts):
            school = schools[n % len(schools)]
            student = by_school[school][n // len(schools)]
            requests.append(AlertRequest("red_tier", school, student, uuid.uuid4(), 3))
        raised = len(raise_many(session, requests, now=now))
    print(f"raised {raised} red alerts through raise_many in {time.perf_counter() - start:.1f} s")
    db.dispose()
    return now.isoformat()


def _counts(db: Any) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}


def _due(db: Any, at: dt.datetime) -> int:
    from sqlalchemy import func

    from wellbeing.alerts.models import Alert, AlertState

    with db.session() as session:
        return session.scalar(
            select(func.count()).select_from(Alert).where(
                Alert.state == AlertState.OPEN, Alert.next_step_at <= at
            )
        )  # fmt: skip


def _raw_limit_sqlite(count: int, directory: Path) -> float:
    """Seconds for sqlite3.executemany of ``count`` AlertStep-shaped rows (and the commit)."""
    path = directory / "raw.db"
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE raw (id CHAR(32) PRIMARY KEY, alert_id CHAR(32), rung SMALLINT, "
        "role VARCHAR(20), step VARCHAR(12), at DATETIME, recipient_count INTEGER)"
    )
    at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [
        (uuid.uuid4().hex, uuid.uuid4().hex, 1, "school_leader", "escalate", at, 1)
        for _ in range(count)
    ]
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def _raw_limit_postgres(count: int, url: str) -> float:
    """Seconds for psycopg COPY of ``count`` AlertStep-shaped rows into a bare copy of the
    table (primary key only) in the same server, and the commit."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    at = dt.datetime.now(dt.UTC)
    rows = [
        (uuid.uuid4(), uuid.uuid4(), 1, "school_leader", "escalate", at, 1) for _ in range(count)
    ]
    columns = "id, alert_id, rung, role, step, at, recipient_count"
    with psycopg.connect(conninfo) as conn:
        conn.execute("DROP TABLE IF EXISTS raw")
        conn.execute("CREATE TEMP TABLE raw (LIKE alert_step INCLUDING DEFAULTS)")
        conn.execute("ALTER TABLE raw ADD PRIMARY KEY (id)")
        t0 = time.perf_counter()
        with conn.cursor().copy(f"COPY raw ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - t0


class Statements:
    """Counts statements sent through the engine (an executemany counts once)."""

    def __init__(self) -> None:
        self.count = 0
        self.many = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:  # fmt: skip
        self.count += 1
        self.many += bool(executemany)


def _scan(db: Any, settings: Any, at: dt.datetime) -> tuple[int, float]:
    from wellbeing.alerts import services

    began = time.perf_counter()
    with services.using_settings(settings), db.session() as session:
        steps = services.escalation_scan(session, at)
    return steps, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300_000)
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--alerts", type=int, default=18_000)
    parser.add_argument("--minutes", type=int, default=61, help="clock after the raise")
    parser.add_argument("--until-done", action="store_true", help="scan until nothing is due")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (database recreated)")
    args = parser.parse_args(argv)

    directory, key_file, url = bench_database("wellbeing-escalation-bench-", args.database_url)
    answer = prepare_in_child(_build, url, str(key_file), args)
    if answer is None:
        return 1
    raised_at = dt.datetime.fromisoformat(answer)

    from wellbeing import modules, open_keyring
    from wellbeing.core import audit
    from wellbeing.db import Database

    modules.import_services()
    settings = _settings(url, key_file)
    db = Database(url)
    from wellbeing.core import crypto

    crypto.install_keyring(open_keyring(db, settings))
    audit.set_actor(audit.Actor(username="scheduler", role="system", scope="bench"))
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    at = raised_at + dt.timedelta(minutes=args.minutes)
    due = _due(db, at)
    before = _counts(db)
    counter = Statements()
    event.listen(db.engine, "before_cursor_execute", counter)
    rss_before = peak_rss_mb()
    runs: list[tuple[int, float, int]] = []
    while True:
        steps, took = _scan(db, settings, at)
        left = _due(db, at)
        runs.append((steps, took, left))
        if not args.until_done or left == 0 or steps == 0:
            break
    event.remove(db.engine, "before_cursor_execute", counter)
    peak = peak_rss_mb()
    after = _counts(db)
    db.dispose()
    written = {t: after[t] - before[t] for t in TABLES}
    raw_count = written["alert_step"] or due
    all_rows = written["alert_step"] + written["alert_inbox"] + written["alert_recipient"]
    measure = _raw_limit_postgres if args.database_url else _raw_limit_sqlite
    where: Any = url if args.database_url else directory
    raw = measure(raw_count, where)  # type: ignore[arg-type]
    raw_all = measure(all_rows, where)  # type: ignore[arg-type]

    backend = "postgresql" if args.database_url else "sqlite"
    escalated = due - runs[-1][2]
    total = sum(took for _steps, took, _left in runs)
    print(f"backend: {backend}; {args.students} students, {args.schools} schools; "
          f"{due} open alerts due {args.minutes} min after the raise")  # fmt: skip
    for n, (steps, took, left) in enumerate(runs, 1):
        print(f"  scan {n}: {steps} steps in {took:.2f} s (commit included); still due: {left}")
    print(f"escalation: {escalated} alerts in {len(runs)} scan run(s), {total:.2f} s; "
          f"{escalated / total:,.0f} alerts/s")  # fmt: skip
    print(f"statements seen by SQLAlchemy: {counter.count} ({counter.many} executemany)")
    print("rows written: " + ", ".join(f"{t} {n}" for t, n in written.items()))
    print(f"emails queued: {written['outbox_message']}; audit entries: {written['audit_entry']}")
    print(f"peak RSS: {peak:.0f} MiB (before the scan: {rss_before:.0f} MiB)")
    limit = "psycopg COPY" if args.database_url else "sqlite3.executemany"
    print(f"raw limit ({limit} of {raw_count} AlertStep-shaped rows + commit): {raw:.2f} s; "
          f"ratio scan / raw limit: {total / raw:.1f}×")  # fmt: skip
    print(f"raw limit for as many rows as the scan wrote to alert_step, alert_inbox and "
          f"alert_recipient ({all_rows}, AlertStep-shaped): {raw_all:.2f} s; "
          f"ratio {total / raw_all:.1f}×")  # fmt: skip
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
