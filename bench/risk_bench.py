"""Bulk rule tiers at district scale: ``apply_rule_tiers`` on 300,000 students.

Run: ``.venv/bin/python -m bench.risk_bench [--students 300000] [--schools 200]
[--database-url postgresql+psycopg://.../db] [--with-subscribers]``

Builds a fresh database with a synthetic district (``bench.synthetic``), then applies one rule
row per student with a screening-like tier mix (≈ 12 % yellow, 5 % orange, 2 % red, the rest
green) in one transaction, and prints the time of the bulk path (SELECT of current tiers,
executemany INSERT of decisions with encrypted reason tokens, grouped UPDATEs, events), then a
second pass with the same rows (nothing rises, so nothing is written). ``--with-subscribers``
loads every module's services first, so the real TIER_CHANGED handlers (alerts, follow-ups...)
run for each changed student and their cost is included.
"""

from __future__ import annotations

import argparse
import random
import time

from sqlalchemy import func, select

from .common import peak_rss_mb

TOKENS = {0: "none", 1: "phq9_total_10_14", 2: "phq9_total_15_plus", 3: "phq9_item9_red"}


def _calibration(count: int) -> float:
    """Seconds for a bare sqlite3 executemany of ``count`` small rows in memory (load gauge)."""
    import os
    import sqlite3
    import uuid

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b BLOB)")
    rows = [(uuid.uuid4().hex, "x" * 32, os.urandom(40)) for _ in range(count)]
    start = time.perf_counter()
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    took = time.perf_counter() - start
    conn.close()
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300_000)
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--with-subscribers", action="store_true")
    args = parser.parse_args(argv)

    from wellbeing import modules, open_keyring
    from wellbeing.cli import initialise
    from wellbeing.core import crypto, events
    from wellbeing.db import Database
    from wellbeing.risk.events import TIER_CHANGED
    from wellbeing.risk.models import TierDecision
    from wellbeing.risk.services import apply_rule_tiers
    from wellbeing.students.models import Student

    from .common import bench_database, bench_settings
    from .synthetic import generate_district

    _directory, key_file, url = bench_database("risk-bench-", args.database_url, "risk.db")
    settings = bench_settings(url, key_file)
    initialise(settings)
    if args.with_subscribers:
        modules.import_services()
    else:
        events._handlers.pop(TIER_CHANGED, None)
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    start = time.perf_counter()
    with db.session() as session:
        generate_district(session, students=args.students, schools=args.schools)
    print(f"backend: {db.engine.dialect.name}; district of {args.students} students written in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip

    rng = random.Random(3)
    with db.session() as session:
        ids = list(session.scalars(select(Student.id)))
    tiers = rng.choices((0, 1, 2, 3), weights=(81, 12, 5, 2), k=len(ids))
    rows = []
    for student_id, tier in zip(ids, tiers, strict=True):
        token = TOKENS[tier]
        rows.append((student_id, tier, None, token))
    print(f"subscribers to TIER_CHANGED: {len(events._handlers.get(TIER_CHANGED, []))}")

    for label in ("first pass", "second pass (no change)"):
        start = time.perf_counter()
        with db.session() as session:
            changed = apply_rule_tiers(session, rows, source="screening")
        took = time.perf_counter() - start
        print(f"{label}: {len(rows)} rows, {len(changed)} students raised, {took:.2f} s incl. commit "
              f"({len(rows) / took:,.0f} rows/s)")  # fmt: skip
    with db.session() as session:
        decisions = session.scalar(select(func.count()).select_from(TierDecision))
        red = session.scalar(select(func.count()).where(Student.tier == 3))
    print(f"decisions stored: {decisions}; red students: {red}; peak RSS {peak_rss_mb():.0f} MiB")
    print(f"machine calibration: {_calibration(decisions or 1):.2f} s for sqlite3.executemany of "
          f"{decisions} rows into an in-memory table (a quiet machine: ~0.1 s for 57k)")  # fmt: skip
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
