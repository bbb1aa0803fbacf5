"""Audit trail benchmark: concurrent writers with the sequencer running, then sealing, `audit
verify` and console queries on a large trail.

    .venv/bin/python -m bench.audit_bench [--entries 1000000] [--writers 8] [--per-writer 500]
                                          [--database-url postgresql+psycopg://…/empty_db]

Without ``--database-url`` a SQLite file in a temporary directory is used. With it, give an
EMPTY database made for the benchmark (it is migrated and filled, never cleaned).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from wellbeing import modules
from wellbeing.cli import initialise
from wellbeing.config import load_settings
from wellbeing.core import audit, audit_verify, crypto
from wellbeing.core.audit import Actor, AuditAction
from wellbeing.db import Database

from .common import peak_rss_mb, percentile, summary_ms

ACTIONS = [
    AuditAction.STUDENT_VIEW, AuditAction.STUDENT_SEARCH, AuditAction.SCREENING_VIEW,
    AuditAction.TIER_VIEW, AuditAction.ALERT_VIEW, AuditAction.FOLLOWUP_VIEW,
    AuditAction.CONCERN_CREATE, AuditAction.LOGIN, AuditAction.RECORD_EXPORT,
]  # fmt: skip


def open_database(url: str | None, workdir: Path) -> tuple[Database, Any]:
    key_file = workdir / "bench-key.json"
    crypto.write_key_file(key_file, crypto.generate_key_material())
    settings = load_settings(
        environ={},
        env="development",
        database_url=url or f"sqlite:///{workdir / 'audit-bench.db'}",
        key_file=str(key_file),
        audit_checkpoint_dir=str(workdir / "checkpoints"),
        secret_key="b" * 48,
    )
    initialise(settings)
    modules.import_services()
    db = (
        Database(settings.database_url, pool_size=32, max_overflow=8)
        if url
        else Database(settings.database_url)
    )
    from wellbeing import open_keyring

    crypto.install_keyring(open_keyring(db, settings))
    return db, settings


# --------------------------------------------------------------------------- phase 1: writers


def _sequencer(url: str, stop: Any, sealed: Any) -> None:
    db = Database(url)
    try:
        while not stop.is_set():
            sealed.value += audit.seal_pending(db)
            stop.wait(0.05)
    finally:
        db.dispose()


def concurrent_writes(db: Database, writers: int, per_writer: int, sealing: bool) -> dict[str, Any]:
    """``writers`` threads each run ``per_writer`` transactions that record one entry (as a
    request does); optionally the sequencer seals continuously meanwhile."""
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    sealed = [0]

    def writer(index: int) -> None:
        actor = Actor(user_id=uuid.uuid4(), username=f"bench{index}", role="psych_teacher",
                      scope="psych_teacher:school", ip="10.0.0.1", user_agent="bench")  # fmt: skip
        school = uuid.uuid4()
        try:
            for i in range(per_writer):
                started = time.perf_counter()
                with db.session() as session:
                    audit.record(
                        session, AuditAction.STUDENT_VIEW, object_type="student",
                        object_id=uuid.uuid4(), student_id=uuid.uuid4(), school_id=school,
                        fields=["name", "tier", "grade"], detail={"n": i}, actor=actor,
                    )  # fmt: skip
                latencies[index].append(time.perf_counter() - started)
        except BaseException as exc:  # pragma: no cover - printed
            errors.append(exc)

    # The sequencer runs in its own process, as the scheduler does in a deployment (in this
    # process it would compete with the writers for the interpreter lock, not the database).
    context = multiprocessing.get_context("fork")
    stop_process = context.Event()
    sealed_count = context.Value("q", 0)
    sealer = (
        context.Process(target=_sequencer, args=(db.url, stop_process, sealed_count))
        if sealing
        else None
    )
    if sealer:
        sealer.start()
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if sealer:
        stop_process.set()
        sealer.join()
        sealed[0] = sealed_count.value
    if errors:
        raise errors[0]
    samples = [x for per in latencies for x in per]
    return {
        "entries": len(samples),
        "seconds": elapsed,
        "samples": samples,
        "sealed_during": sealed[0],
    }


# --------------------------------------------------------------------------- phase 2: big trail


def bulk_create(
    db: Database, count: int, batch: int = 10000
) -> tuple[float, list[uuid.UUID], list[uuid.UUID]]:
    """Insert ``count`` unsealed entries with Core executemany (spread over 90 days, 300 users,
    20,000 students, 60 schools); returns seconds and the pools used."""
    rng = random.Random(7)
    users = [uuid.uuid4() for _ in range(300)]
    students = [uuid.uuid4() for _ in range(20000)]
    schools = [uuid.uuid4() for _ in range(60)]
    end = dt.datetime.now(dt.UTC)
    span = 90 * 24 * 3600
    table = audit.AuditEntry.__table__
    started = time.perf_counter()
    made = 0
    while made < count:
        rows = []
        for _ in range(min(batch, count - made)):
            user = rng.randrange(len(users))
            rows.append(
                {
                    "occurred_at": end - dt.timedelta(seconds=rng.random() * span),
                    "actor_user_id": users[user], "actor_username": f"user{user}",
                    "actor_role": "psych_teacher", "actor_scope": "psych_teacher:school",
                    "session_hash": "0123456789abcdef", "ip": "10.1.2.3", "user_agent": "Mozilla/5.0",
                    "request_id": f"{rng.getrandbits(64):016x}", "action": str(rng.choice(ACTIONS)),
                    "object_type": "student", "object_id": None,
                    "student_id": rng.choice(students), "school_id": rng.choice(schools),
                    "fields": ["name", "tier"], "detail": {}, "purpose": None,
                    "outcome": "denied" if rng.random() < 0.02 else "allowed", "break_glass_id": None,
                }
            )  # fmt: skip
        with db.session() as session:
            session.execute(insert(table), rows)
        made += len(rows)
    return time.perf_counter() - started, users, students


def console_queries(
    db: Database, users: list[uuid.UUID], students: list[uuid.UUID], runs: int = 40
) -> None:
    from wellbeing.audit import queries

    rng = random.Random(11)
    now = dt.datetime.now(dt.UTC)
    cases = {
        "by student": lambda: queries.EntryFilter(student_id=rng.choice(students)),
        "by user": lambda: queries.EntryFilter(user_id=rng.choice(users)),
        "by action + 7 days": lambda: queries.EntryFilter(
            action=str(AuditAction.SCREENING_VIEW), since=now - dt.timedelta(days=7)
        ),
        "denied": lambda: queries.EntryFilter(outcome="denied"),
        "after hours": lambda: queries.EntryFilter(after_hours=True),
        "unfiltered": lambda: queries.EntryFilter(),
    }
    for label, make in cases.items():
        samples, deep = [], []
        for _ in range(runs):
            f = make()
            with db.session() as session:
                started = time.perf_counter()
                page = queries.search(session, f)
                samples.append(time.perf_counter() - started)
                if page.next_cursor:  # the page after: keyset, same cost
                    started = time.perf_counter()
                    queries.search(session, f, queries.Cursor.decode(page.next_cursor))
                    deep.append(time.perf_counter() - started)
        extra = f"; next page {summary_ms(deep)}" if deep else ""
        print(f"  console {label:<20} first page {summary_ms(samples)}{extra}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="size of the trail to verify"
    )
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=500)
    parser.add_argument(
        "--database-url", default=None, help="an EMPTY database (default: SQLite temp file)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        db, _settings = open_database(args.database_url, Path(tmp))
        print(f"audit benchmark on {db.engine.dialect.name}, {args.writers} writer threads")

        for sealing in (False, True):
            audit.seal_pending(db)  # start each run with an empty backlog
            r = concurrent_writes(db, args.writers, args.per_writer, sealing)
            label = "with the sequencer sealing" if sealing else "without sealing (baseline)"
            print(
                f"writes {label}: {r['entries']} entries in {r['seconds']:.2f} s = "
                f"{r['entries'] / r['seconds']:,.0f} entries/s; per transaction {summary_ms(r['samples'])}; "
                f"p99={percentile(r['samples'], 0.99) * 1000:.3f} ms; sealed meanwhile: {r['sealed_during']}"
            )  # fmt: skip
        started = time.perf_counter()
        rest = audit.seal_pending(db)
        print(
            f"sealed the remaining {rest} in {time.perf_counter() - started:.2f} s; peak RSS {peak_rss_mb():.0f} MiB"
        )

        with db.session() as session:
            existing = session.scalar(select(func.count()).select_from(audit.AuditEntry)) or 0
        todo = max(0, args.entries - existing)
        seconds, users, students = bulk_create(db, todo)
        print(
            f"bulk-created {todo:,} entries in {seconds:.1f} s ({todo / max(seconds, 1e-9):,.0f}/s)"
        )

        started = time.perf_counter()
        sealed = audit.seal_pending(db, batch_size=10000)
        seconds = time.perf_counter() - started
        print(f"sealed {sealed:,} entries in {seconds:.1f} s = {sealed / seconds:,.0f} entries/s; "
              f"peak RSS {peak_rss_mb():.0f} MiB")  # fmt: skip

        started = time.perf_counter()
        with db.session() as session:
            checkpoint = audit_verify.sign_head(session)
            result = audit_verify.verify_chain(session, checkpoint)
        seconds = time.perf_counter() - started
        if not result.ok:
            raise SystemExit(f"verification failed: {result.message}")
        print(f"audit verify: {result.checked:,} entries in {seconds:.1f} s = "
              f"{result.checked / seconds:,.0f} entries/s (intact, {result.unsealed} unsealed); "
              f"peak RSS {peak_rss_mb():.0f} MiB")  # fmt: skip

        console_queries(db, users, students)
        print(f"peak RSS of the whole run: {peak_rss_mb():.0f} MiB")
        db.dispose()


if __name__ == "__main__":
    main()
