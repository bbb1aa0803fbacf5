"""Key rotation online: `keys rotate` of at least N encrypted values while the load mix runs.

    .venv/bin/python -m bench rotation_bench [--values 1000000] [--students N]
        [--database-url postgresql+psycopg://…/db] [--workers N] [--users 20] [--rate 150]
        [--warmup 5] [--before 30] [--after 10] [--purpose identity …]
        [--batch-size 1000] [--pause 0] [--no-scheduler] [--no-results] [--keep]

The district is the load benchmark's (``bench/load_world.py``, built in a forked child), sized
to hold at least ``--values`` encrypted values (``--students`` defaults to enough students for
them: each student has an encrypted number and name, and about two screening responses). The
values of the purposes rotated are counted per column in SQL before anything is served, and the
run stops if they are fewer than ``--values``.

The app is served as the load benchmark serves it (``bench/load_server.py``: gunicorn with
``deploy/gunicorn.conf.py``, 2 workers on PostgreSQL and 1 on SQLite unless ``--workers``, and
the scheduler). ``--users`` accounts of several roles sign in (password, then TOTP) and the load
benchmark's mix (``load_bench.ACTIONS`` weighted by ``ROLE_WEIGHTS``, driven by
``load_client.drive`` at ``--rate`` requests/s: workbench, review queue, student search, student
record, timeline, alert acknowledge, concern report, follow-up complete) runs for ``--warmup``
seconds (not reported, but its failures count), ``--before`` seconds, then for as long as
``wellbeing keys rotate`` (its own process: every purpose, or those of ``--purpose``) runs, then
``--after`` seconds. The values rewritten can exceed those counted: the mix writes some too.

It reports the rotation's values/s, the requests and failed requests of each phase (a status
other than the expected one, a timeout or a broken connection; the first failures are printed
with their sample), p50/p95/p99 per page before, during and after, the server's tracebacks, and
checks that no value is left under an old key. Figures are merged into ``bench/results.json``
under ``key_rotation`` → backend (other keys are kept). Exit status 1 when a request failed or a
value is left under an old key.

With ``--database-url`` the given PostgreSQL database is DROPPED and recreated.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import re
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import load_client as lc
from .common import bench_database, prepare_in_child
from .load_bench import ACTIONS, ROLE_WEIGHTS
from .load_server import Server, server_env
from .load_world import PASSWORD, TOTP_SECRET, WorldSpec, build_world, choose_users, targets

RESULTS = Path(__file__).with_name("results.json")
KEY = "key_rotation"
PURPOSES = ("identity", "clinical", "account")
# Encrypted values per student of the load world: number and name (identity), a PHQ-9 and a
# GAD-7 response for 95 % of them (clinical), tier reasons, a few concerns, plans and referrals:
# 4.19 measured at 5,000 students; kept lower so that the default size always holds ``--values``.
VALUES_PER_STUDENT = 3.9
ROTATED = re.compile(r"(\w+): now v(\d+); (\d+) values re-encrypted in ([\d.]+) s")


def _bin(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    return str(found) if found.exists() else shutil.which(name) or name


def students_for(values: int) -> int:
    """Students of a load world holding at least ``values`` encrypted values (to the thousand
    above when large; never fewer than 200, the smallest world with every page's targets)."""
    wanted = math.ceil(values / VALUES_PER_STUDENT)
    return max(200, math.ceil(wanted / 1000) * 1000 if wanted > 10_000 else wanted)


# --------------------------------------------------------------------------- the database


def _database(url: str, key_file: Path, keyring: bool = False) -> Any:
    from wellbeing import modules, open_keyring
    from wellbeing.core import crypto
    from wellbeing.db import Database

    from .load_world import world_settings

    modules.import_models()
    db = Database(url)
    if keyring:
        crypto.install_keyring(open_keyring(db, world_settings(url, key_file)))
    return db


def encrypted_columns(url: str, key_file: Path, purposes: list[str]) -> dict[str, dict[str, int]]:
    """Values set per encrypted column (``table.column`` → count), by purpose; counted in SQL."""
    from sqlalchemy import func, select

    from wellbeing.core.fields import encrypted_fields

    db = _database(url, key_file)
    out: dict[str, dict[str, int]] = {}
    try:
        with db.session() as session:
            for purpose in purposes:
                columns = out.setdefault(purpose, {})
                for model, field in encrypted_fields(purpose):
                    table: Any = getattr(model, "__table__")  # noqa: B009 (a mapped class)
                    column = table.c[field.column]
                    count = session.scalar(select(func.count()).where(column.is_not(None))) or 0
                    if count:
                        columns[f"{table.name}.{field.column}"] = int(count)
    finally:
        db.dispose()
    return out


def values_by_key(url: str, key_file: Path) -> dict[str, dict[str, int]]:
    """Values per purpose and data-key version (``keys status``), with the primary's version."""
    from wellbeing.keys.services import key_status

    db = _database(url, key_file)
    out: dict[str, dict[str, int]] = {}
    try:
        with db.session() as session:
            for row in key_status(session):
                entry = out.setdefault(row.purpose, {"primary": 0})
                entry[f"v{row.version}"] = row.values
                if row.state == "primary":
                    entry["primary"] = row.version
    finally:
        db.dispose()
    return out


def user_targets(url: str, key_file: Path, chosen: list[dict[str, str]]) -> dict[str, Any]:
    """What each user opens and acts on (``load_world.targets``: names decrypted)."""
    from wellbeing.core import crypto

    db = _database(url, key_file, keyring=True)
    try:
        return targets(db, chosen)
    finally:
        crypto.install_keyring(None)
        db.dispose()


# --------------------------------------------------------------------------- the run


async def _measure(
    server: Server, chosen: list[dict[str, str]], aims: dict[str, Any], args: Any
) -> dict[str, Any]:
    """Sign in, run the mix before, during and after the rotation (one ``drive`` each)."""
    await server.ready()
    users = []
    for entry in chosen:
        client = lc.Client("127.0.0.1", server.port)
        await client.sign_in(entry["username"], PASSWORD, TOTP_SECRET)
        weights = [(page, float(w)) for page, w in ROLE_WEIGHTS[entry["role"]].items()]
        users.append(
            lc.VirtualUser(
                entry["username"], entry["role"], client, aims[entry["username"]], weights
            )
        )
    proc = None
    try:  # a warm-up first (caches, connections): its failures count, its latencies do not
        warmup = await lc.drive(users, ACTIONS, args.warmup, rate=args.rate, seed=2)
        before = await lc.drive(users, ACTIONS, args.before, rate=args.rate, seed=3)
        argv = [_bin("wellbeing"), "keys", "rotate", "--batch-size", str(args.batch_size),
                "--pause", str(args.pause)]  # fmt: skip
        for purpose in args.purpose or ():
            argv += ["--purpose", purpose]
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv, env=server.env, cwd=server.directory,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output = asyncio.create_task(proc.communicate())
        during = await lc.drive(users, ACTIONS, 10**7, rate=args.rate, seed=4, until=output.done)
        out, _ = await output
        wall = time.monotonic() - started
        after = await lc.drive(users, ACTIONS, args.after, rate=args.rate, seed=5)
    finally:
        if proc is not None and proc.returncode is None:  # the load failed: stop the rotation
            proc.kill()
            await proc.wait()
        for user in users:
            await user.client.close()
    return {
        "returncode": proc.returncode, "output": out.decode("utf-8", "replace"), "wall_s": wall,
        "phases": {"warmup": warmup, "before": before, "during": during, "after": after},
    }  # fmt: skip


def run(args: Any) -> dict[str, Any]:
    purposes = list(args.purpose or PURPOSES)
    students = args.students or students_for(args.values)
    spec = WorldSpec.scaled(students)
    started = time.perf_counter()
    if args.from_dir:  # the district a load benchmark run kept (load_bench --keep)
        directory, key_file = Path(args.from_dir), Path(args.from_dir) / "key.json"
        kept = json.loads((directory / "world.json").read_text())
        url, world = kept["url"], kept["world"]
        spec = WorldSpec.scaled(int(world["counts"].get("student", students)))
    else:
        directory, key_file, url = bench_database("rotation-bench-", args.database_url)
        print(f"building the district ({spec.students:,} students, {spec.schools} schools) …",
              flush=True)  # fmt: skip
        answer = prepare_in_child(
            build_world, url, str(key_file), str(directory), json.dumps(asdict(spec))
        )
        if answer is None:
            raise SystemExit("building the district failed")
        world = json.loads(answer)
    world_s = time.perf_counter() - started
    columns = encrypted_columns(url, key_file, purposes)
    total = sum(sum(c.values()) for c in columns.values())
    print(f"district built in {world_s:.0f} s: {total:,} encrypted values ({', '.join(purposes)})",
          flush=True)  # fmt: skip
    if total < args.values:
        raise SystemExit(
            f"the district holds {total:,} encrypted values of {', '.join(purposes)}, fewer "
            f"than --values {args.values:,}: raise --students"
        )
    chosen = choose_users(world["users"], args.users)
    aims = user_targets(url, key_file, chosen)
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    workers = args.workers or (2 if backend == "postgresql" else 1)
    server = Server(
        server_env(url, key_file, directory, workers, False), directory, not args.no_scheduler
    )
    try:
        measured = asyncio.run(_measure(server, chosen, aims, args))
    finally:
        server.stop()
    tracebacks = server.tracebacks()
    if measured["returncode"] != 0:
        raise SystemExit(
            f"keys rotate failed:\n{measured['output'][-3000:]}\n(logs in {directory})"
        )
    rotated = {m.group(1): {"version": int(m.group(2)), "values": int(m.group(3)),
                            "seconds": float(m.group(4))}
               for m in ROTATED.finditer(measured["output"])}  # fmt: skip
    if set(rotated) != set(purposes):
        raise SystemExit(f"unexpected output of keys rotate:\n{measured['output'][-3000:]}")
    keys_after = values_by_key(url, key_file)
    rewritten = sum(r["values"] for r in rotated.values())
    seconds = sum(r["seconds"] for r in rotated.values())
    phases = {name: stats.summary() for name, stats in measured["phases"].items()}
    figures: dict[str, Any] = {
        "server": f"gunicorn -c deploy/gunicorn.conf.py, {workers} sync worker{'s' * (workers > 1)}"
                  + ("" if args.no_scheduler else ", scheduler process"),
        "students": spec.students, "schools": spec.schools, "users": len(chosen),
        "roles": {r: sum(u["role"] == r for u in chosen) for r in ROLE_WEIGHTS},
        "world_build_s": round(world_s), "world_counts": world["counts"],
        "values_asked": args.values, "values": total, "columns": columns,
        "purposes": purposes, "batch_size": args.batch_size, "pause_s": args.pause,
        "rate_target_per_s": args.rate, "rotated": rotated, "rewritten": rewritten,
        "rotation_s": round(seconds, 1), "values_per_s": round(rewritten / max(seconds, 1e-9)),
        "rotation_wall_s": round(measured["wall_s"], 1),  # with the process's start and counts
        "under_old_key_after": sum(
            n for p in purposes for v, n in keys_after.get(p, {}).items()
            if v not in ("primary", f"v{keys_after[p]['primary']}")
        ),
        "keys_after": keys_after, **{f"requests_{name}": s for name, s in phases.items()},
        "failed_requests": sum(s["errors"] for s in phases.values()),
        "server_tracebacks": tracebacks,
        "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    if not args.no_results:
        merge_results(args.results, backend, figures)
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    return {"backend": backend, **figures}


def merge_results(path: Path, backend: str, figures: dict[str, Any]) -> None:
    """Write ``figures`` under results[KEY][backend], keeping every other key of the file."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.setdefault(KEY, {})[backend] = figures
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    tmp.replace(path)


# --------------------------------------------------------------------------- report


def report(f: dict[str, Any]) -> None:
    print(f"\nkey rotation on {f['backend']} under the load mix: {f['server']}; "
          f"{f['students']:,} students; {f['users']} users {f['roles']}; "
          f"load average {f['load_average']}")  # fmt: skip
    print(f"  {f['values']:,} encrypted values (asked for at least {f['values_asked']:,}):")
    for purpose, columns in f["columns"].items():
        listed = ", ".join(f"{name} {n:,}" for name, n in columns.items())
        print(f"    {purpose}: {listed or 'none'}")
    print(f"  rotation: {f['rewritten']:,} values in {f['rotation_s']} s = "
          f"{f['values_per_s']:,} values/s (batch {f['batch_size']}, pause {f['pause_s']} s; "
          f"{f['rotation_wall_s']} s with the process's start); "
          f"left under an old key: {f['under_old_key_after']}")  # fmt: skip
    for purpose, r in f["rotated"].items():
        print(f"    {purpose}: v{r['version']}, {r['values']:,} values in {r['seconds']} s")
    print(f"  {'page':20} " + "  ".join(f"{n:>26}" for n in ("before", "during", "after")))
    print(f"  {'':20} " + "  ".join(f"{'req  p50  p95  p99 ms err':>26}" for _ in range(3)))
    pages = sorted({p for n in ("before", "during", "after") for p in f[f"requests_{n}"]["pages"]})
    for page in pages:
        cells = []
        for name in ("before", "during", "after"):
            s = f[f"requests_{name}"]["pages"].get(page)
            cells.append(f"{s['requests']:>6} {s['p50_ms']:>5.0f} {s['p95_ms']:>5.0f} "
                         f"{s['p99_ms']:>5.0f} {s['errors']:>3}" if s else f"{'-':>26}")  # fmt: skip
        print(f"  {page:20} " + "  ".join(cells))
    for name in ("warmup", "before", "during", "after"):
        s = f[f"requests_{name}"]
        print(f"  {name:6}: {s['requests']:,} requests in {s['seconds']} s = {s['per_s']}/s "
              f"(target {f['rate_target_per_s'] or 'closed loop'}), failed {s['errors']}")  # fmt: skip
        if s["ran_dry"]:
            print(f"    ran out of targets so far (users): {s['ran_dry']}")
        for sample in s["error_samples"]:
            print(f"    failed: {sample}")
    print(f"  failed requests in all: {f['failed_requests']}; "
          f"server tracebacks: {f['server_tracebacks']}")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench rotation_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--values", type=int, default=1_000_000, help="encrypted values, at least")
    p.add_argument("--students", type=int, default=None,
                   help="default: enough for --values")  # fmt: skip
    p.add_argument("--database-url", default=None, help="PostgreSQL (dropped and recreated)")
    p.add_argument("--workers", type=int, default=0,
                   help="gunicorn workers (default: 2 on PostgreSQL, 1 on SQLite)")  # fmt: skip
    p.add_argument("--users", type=int, default=20, help="signed-in users (several roles)")
    p.add_argument("--rate", type=float, default=150, help="requests/s of the mix; 0: closed loop")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of the mix, not reported")
    p.add_argument("--before", type=float, default=30.0, help="seconds of the mix first")
    p.add_argument("--after", type=float, default=10.0, help="seconds of the mix after")
    p.add_argument("--purpose", action="append", choices=PURPOSES, help="default: every purpose")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--pause", type=float, default=0.0, help="between batches (seconds)")
    p.add_argument("--no-scheduler", action="store_true", help="serve without the scheduler")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--from-dir", help="serve the district a `load_bench --keep` run left there")
    p.add_argument("--no-results", action="store_true", help="do not write bench/results.json")
    p.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    figures = run(parser().parse_args(argv))
    report(figures)
    return 1 if figures["failed_requests"] or figures["under_old_key_after"] else 0


if __name__ == "__main__":
    sys.exit(main())
