"""Audit verification at scale: full and checkpoint verification, peak memory, the HMAC limit.

    .venv/bin/python -m bench.audit_verify_bench [--entries 1000000] [--tail 10000]
                                                 [--database-url postgresql+psycopg://…/db]

Builds ``--entries`` entries with a valid chain (bulk Core inserts of unsealed rows, then the
application's own sequencer, ``audit.seal_pending``, seals them: its rate is the sealing
throughput) in a forked child, so the parent's peak memory is that of verification alone.
Then: ``audit verify --full`` (walks everything, recorded as a run), ``--tail`` more entries
and a checkpoint, and ``audit verify`` in its default mode (from the newest checkpoint inside
the verified range: it walks only the tail). Each walk is timed, then repeated under
tracemalloc for its peak Python allocation; RSS is read before and after. The raw HMAC limit is
measured in the same run over the same canonical bytes. The figures are merged into
``bench/results.json`` under ``audit_verify`` → backend (other keys are kept).

With ``--database-url`` the given PostgreSQL database is DROPPED and recreated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import json
import os
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from .common import bench_database, bench_settings, peak_rss_mb, prepare_in_child

RESULTS = Path(__file__).with_name("results.json")
KEY = "audit_verify"


def _open(url: str, key_file: Path, directory: Path) -> tuple[Any, Any]:
    from wellbeing import open_keyring
    from wellbeing.core import crypto
    from wellbeing.db import Database

    settings = bench_settings(url, key_file, audit_checkpoint_dir=str(directory / "checkpoints"))
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    return db, settings


def insert_entries(db: Any, count: int, batch: int = 5000) -> None:
    """Unsealed entries shaped like the app's (a staff member viewing a student's record)."""
    from wellbeing.core.audit import ENTRY_TABLE

    users = [uuid.uuid4() for _ in range(300)]
    schools = [uuid.uuid4() for _ in range(60)]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    made = 0
    while made < count:
        rows = []
        for i in range(made, min(made + batch, count)):
            rows.append({
                "occurred_at": start + dt.timedelta(seconds=i * 7.3), "actor_user_id": users[i % 300],
                "actor_username": f"user{i % 300}", "actor_role": "psych_teacher",
                "actor_scope": "psych_teacher:school", "session_hash": f"{i % 9973:016x}",
                "ip": "10.1.2.3", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                "request_id": f"{i:016x}", "action": "case:student:view",
                "object_type": "student", "object_id": str(i), "student_id": uuid.uuid4(),
                "school_id": schools[i % 60], "fields": ["name", "tier"],
                "detail": {"n": i % 7} if i % 5 == 0 else {}, "purpose": None,
                "outcome": "allowed", "break_glass_id": None,
            })  # fmt: skip
        with db.session() as session:
            session.execute(insert(ENTRY_TABLE), rows)
        made += len(rows)


def build(url: str, key_file: str, directory: str, entries: int) -> str:
    """(In a child process) migrate, insert and seal; returns the timings as JSON."""
    from wellbeing import modules
    from wellbeing.cli import initialise
    from wellbeing.core import audit

    settings = bench_settings(url, Path(key_file))
    initialise(settings)
    modules.import_services()
    db, _ = _open(url, Path(key_file), Path(directory))
    started = time.perf_counter()
    insert_entries(db, entries)
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    sealed = audit.seal_pending(db, batch_size=5000)
    sealing = time.perf_counter() - started
    db.dispose()
    return json.dumps({"insert_s": inserted, "sealed": sealed, "seal_s": sealing})


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def walk(db: Any, directory: Path, full: bool) -> dict[str, Any]:
    """One ``audit verify`` (timed), then the same walk under tracemalloc (for memory)."""
    from wellbeing.core import audit_verify

    rss_before = _rss_mb()
    files = audit_verify.checkpoint_files(directory)
    target = audit_verify.Checkpoint.load(files[-1]) if files else None
    with db.session() as session:  # what the run below chooses (for the traced walk after it)
        anchor = None if full else audit_verify.choose_anchor(session, files)
    cpu = time.process_time()
    result = audit_verify.verify_and_record(db, target, directory=directory, full=full)
    cpu = time.process_time() - cpu
    if not result.ok:
        raise SystemExit(f"verification failed: {result.message}")
    rss_after = _rss_mb()
    tracemalloc.start()
    with db.session() as session:
        audit_verify.verify_chain(session, target, anchor=anchor)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "mode": result.mode, "from_seq": result.from_seq, "to_seq": result.to_seq,
        "entries": result.checked, "seconds": round(result.seconds, 3),
        "entries_per_s": round(result.rate), "entries_per_cpu_s": round(result.checked / cpu),
        "tracemalloc_peak_mib": round(peak / 2**20, 2),
        "rss_before_mib": round(rss_before, 1), "rss_after_mib": round(rss_after, 1),
    }  # fmt: skip


def hmac_limit(db: Any, sample: int = 20000) -> dict[str, float]:
    """HMAC-SHA256 over the chain's own canonical bytes (as sealed), with nothing else: the
    one-shot call the sequencer uses and the pre-keyed copy the verifier uses."""
    from wellbeing.core import crypto
    from wellbeing.core.audit import ENTRY_COLUMNS, ENTRY_TABLE, canonical_values

    with db.session() as session:
        rows = session.execute(
            select(*ENTRY_COLUMNS).where(ENTRY_TABLE.c.seq.is_not(None))
            .order_by(ENTRY_TABLE.c.seq).limit(sample)
        ).all()  # fmt: skip
    payloads = [canonical_values(r[3:], r.seq) for r in rows]
    key = crypto.current_keyring().material.audit_key
    mac = b"\0" * 32
    started = time.perf_counter()
    for p in payloads:
        mac = hmac.digest(key, mac + p, "sha256")
    one_shot = len(payloads) / (time.perf_counter() - started)
    base = hmac.new(key, digestmod="sha256")
    started = time.perf_counter()
    for p in payloads:
        h = base.copy()
        h.update(mac)
        h.update(p)
        mac = h.digest()
    keyed = len(payloads) / (time.perf_counter() - started)
    size = sum(map(len, payloads)) / max(1, len(payloads))
    return {"one_shot_per_s": round(one_shot), "prekeyed_per_s": round(keyed),
            "payload_bytes": round(size)}  # fmt: skip


def merge_results(path: Path, backend: str, figures: dict[str, Any]) -> None:
    """Write ``figures`` under results[KEY][backend], keeping every other key of the file."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.setdefault(KEY, {})[backend] = figures
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def run(entries: int, tail: int, database_url: str | None, results: Path | None) -> dict[str, Any]:
    from wellbeing.core import audit, audit_verify

    directory, key_file, url = bench_database("audit-verify-bench-", database_url)
    built = prepare_in_child(build, url, str(key_file), str(directory), entries)
    if built is None:
        raise SystemExit("building the trail failed")
    timings = json.loads(built)
    db, _settings = _open(url, key_file, directory)
    backend = db.engine.dialect.name
    checkpoints = directory / "checkpoints"
    audit_verify.write_checkpoint(db, checkpoints)
    full = walk(db, checkpoints, full=True)
    insert_entries(db, tail)
    audit_verify.write_checkpoint(db, checkpoints)
    incremental = walk(db, checkpoints, full=False)
    started = time.perf_counter()
    insert_entries(db, tail)
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    sealed = audit.seal_pending(db)  # the sequencer's default batch, as the scheduler runs it
    small_batches = sealed / max(time.perf_counter() - started, 1e-9)
    limit = hmac_limit(db)
    figures = {
        "entries": entries, "tail": tail, "load_average": [round(x, 2) for x in os.getloadavg()],
        "insert_per_s": round(entries / timings["insert_s"]),
        "seal_per_s": round(timings["sealed"] / timings["seal_s"]),
        "seal_default_batch_per_s": round(small_batches),
        "tail_insert_per_s": round(tail / max(inserted, 1e-9)),
        "full": full, "checkpoint": incremental, "hmac": limit,
        "full_vs_hmac": round(full["entries_per_s"] / limit["one_shot_per_s"], 3),
        "peak_rss_mib": round(peak_rss_mb(), 1),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    db.dispose()
    if results is not None:
        merge_results(results, backend, figures)
    return {"backend": backend, **figures}


def report(f: dict[str, Any]) -> None:
    full, cp, h = f["full"], f["checkpoint"], f["hmac"]
    print(f"audit verification on {f['backend']}: {f['entries']:,} entries "
          f"(load average {', '.join(map(str, f['load_average']))})")  # fmt: skip
    print(f"  build: insert {f['insert_per_s']:,}/s; sealing {f['seal_per_s']:,}/s "
          f"(default batch: {f['seal_default_batch_per_s']:,}/s)")  # fmt: skip
    for label, w in (("full", full), ("from checkpoint", cp)):
        print(f"  {label:16} {w['entries']:>9,} entries (seq {w['from_seq']}–{w['to_seq']}) in "
              f"{w['seconds']:.2f} s = {w['entries_per_s']:,}/s ({w['entries_per_cpu_s']:,} per "
              f"CPU-second); tracemalloc peak {w['tracemalloc_peak_mib']} MiB; RSS "
              f"{w['rss_before_mib']} → {w['rss_after_mib']} MiB")  # fmt: skip
    print(f"  HMAC alone ({h['payload_bytes']} bytes): {h['one_shot_per_s']:,}/s one-shot, "
          f"{h['prekeyed_per_s']:,}/s pre-keyed; full verify / HMAC = {f['full_vs_hmac']}")  # fmt: skip
    print(f"  peak RSS of this process {f['peak_rss_mib']} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--tail", type=int, default=10_000, help="entries after the checkpoint")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (dropped, recreated)")
    parser.add_argument("--no-results", action="store_true", help="do not write results.json")
    args = parser.parse_args(argv)
    figures = run(args.entries, args.tail, args.database_url, None if args.no_results else RESULTS)
    report(figures)


if __name__ == "__main__":
    main()
