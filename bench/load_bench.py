"""Load: a realistic mix of signed-in users over HTTP, SQLite (1 worker) and PostgreSQL (2).

    .venv/bin/python -m bench load_bench [--students 300000] [--duration 60] [--users 20]
        [--rate 150] [--backend sqlite|postgresql|both] [--database-url postgresql+psycopg://…/db]
        [--soak [--soak-minutes 10]] [--profile [--profile-page PAGE]] [--no-scheduler]
        [--no-results] [--keep]
    (also ``make bench BENCH="load_bench …"`` and ``wellbeing bench load …``)

For each backend a fresh database is filled with the synthetic district of
``bench/load_world.py`` (in a forked child) and served as a district serves it: gunicorn with
``deploy/gunicorn.conf.py`` (sync workers, the app preloaded) -- 1 worker on SQLite (one process
serves: SQLite has one writer), 2 on PostgreSQL -- and ``wellbeing scheduler run`` beside it
(sealing the audit entries the load writes, the escalation scans). ``--users`` accounts of
several roles sign in (password, then TOTP) and the load generator (``bench/load_client.py``,
asyncio on loopback) runs:

1. the raw limit: ``GET /static/app.css`` in a closed loop (every user at once, no pause), the
   same server, generator and connections as the mix;
2. the mix for ``--duration`` seconds at ``--rate`` requests/s (open loop; 0: closed loop):
   workbench, review queue, student search by name, student record, timeline, alert
   acknowledge, concern report and follow-up complete (POSTs with the session's CSRF token).

Per page: requests/s, p50/p95/p99 and errors (a status other than the expected one -- 200 for a
page, 302 after a POST -- a timeout or a broken connection). ``--soak`` then runs the mix on
PostgreSQL for ``--soak-minutes`` with the workers never recycled (``GUNICORN_MAX_REQUESTS`` off,
so a leak shows) and reads each worker's RSS from /proc at the start, every 30 s and at the end.
``--profile`` runs the student record page (or ``--profile-page``) under cProfile (the app in
this process, Flask's test client: the server-side code only), counts its SQL statements and
prints the top functions. Figures are merged into
``bench/results.json`` under ``load`` (other keys kept). With ``--database-url`` that PostgreSQL
database is DROPPED and recreated.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import load_client as lc
from .common import bench_database, prepare_in_child
from .load_profile import profile_page
from .load_server import Server, server_env
from .load_world import PASSWORD, TOTP_SECRET, WorldSpec, build_world, choose_users, targets

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results.json")
KEY = "load"
STATIC = "/static/app.css"
GOAL = {"page": "student record", "p95_ms": 100, "per_s": 150}
ROLE_WEIGHTS = {
    "psych_teacher": {"workbench": 15, "review queue": 8, "student search": 12, "student record": 25,
                      "timeline": 12, "alert acknowledge": 6, "concern report": 6, "follow-up complete": 10},
    "school_leader": {"workbench": 30, "student search": 15, "student record": 30, "timeline": 15,
                      "alert acknowledge": 5, "concern report": 5},
    "counsellor": {"workbench": 30, "student search": 15, "student record": 30, "timeline": 15,
                   "alert acknowledge": 10},
}  # fmt: skip


def _pop(user: lc.VirtualUser, pool: str) -> str | None:
    items = user.targets[pool]
    return items.pop() if items else None


def _choice(user: lc.VirtualUser, rng: Any, pool: str) -> Any:
    items = user.targets[pool]
    return rng.choice(items) if items else None


def _post(path: str, user: lc.VirtualUser, **fields: str) -> lc.Call:
    return lc.Call("POST", path, {**fields, "csrf_token": user.client.csrf}, expect=(302,))


def _record(u: lc.VirtualUser, r: Any) -> lc.Call | None:
    sid = _choice(u, r, "students")
    return lc.Call("GET", f"/students/{sid}") if sid else None


def _timeline(u: lc.VirtualUser, r: Any) -> lc.Call | None:
    sid = _choice(u, r, "students")
    return lc.Call("GET", f"/students/{sid}/timeline") if sid else None


def _search(u: lc.VirtualUser, r: Any) -> lc.Call | None:
    name = _choice(u, r, "names")
    return lc.Call("GET", f"/students/search?q={quote(name)}") if name else None


def _acknowledge(u: lc.VirtualUser, r: Any) -> lc.Call | None:
    alert = _pop(u, "alerts")
    return _post(f"/alerts/{alert}/acknowledge", u) if alert else None


def _concern(u: lc.VirtualUser, r: Any) -> lc.Call | None:
    found = _choice(u, r, "numbers")
    if not found:
        return None
    return _post("/concerns/new", u, school_id=found[0], student_number=found[1], category="mood",
                 urgency="routine", text="最近上课常走神，和同学交流变少。")  # fmt: skip


def _complete(u: lc.VirtualUser, r: Any) -> lc.Call | None:
    followup = _pop(u, "followups")
    if not followup:
        return None
    return _post(
        f"/followups/{followup}/complete", u, outcome="seen", note="谈话二十分钟，情绪平稳。"
    )


PROFILE_PATHS: dict[str, Any] = {  # page -> the paths it is profiled on, from a user's targets
    "student record": lambda t: [f"/students/{s}" for s in t["students"]],
    "timeline": lambda t: [f"/students/{s}/timeline" for s in t["students"]],
    "student search": lambda t: [f"/students/search?q={quote(n)}" for n in t["names"]],
    "review queue": lambda t: ["/screening/review"],
    "workbench": lambda t: ["/"],
}
ACTIONS: dict[str, lc.Action] = {
    "workbench": lambda u, r: lc.Call("GET", "/"),
    "review queue": lambda u, r: lc.Call("GET", "/screening/review"),
    "student search": _search, "student record": _record, "timeline": _timeline,
    "alert acknowledge": _acknowledge, "concern report": _concern, "follow-up complete": _complete,
    "static": lambda u, r: lc.Call("GET", STATIC),
}  # fmt: skip


# --------------------------------------------------------------------------- one backend


async def _load(
    server: Server, chosen: list[dict[str, str]], aims: dict[str, Any], args: Any
) -> dict[str, Any]:
    await server.ready()
    users = []
    for entry in chosen:
        client = lc.Client("127.0.0.1", server.port)
        await client.sign_in(entry["username"], PASSWORD, TOTP_SECRET)
        weights = ROLE_WEIGHTS[entry["role"]]
        pools = aims[entry["username"]]
        users.append(
            lc.VirtualUser(entry["username"], entry["role"], client, pools, list(weights.items()))
        )
    static_users = [
        lc.VirtualUser(u.username, u.role, u.client, u.targets, [("static", 1.0)]) for u in users
    ]
    raw = await lc.drive(static_users, ACTIONS, args.static_seconds, rate=0)
    mix = await lc.drive(users, ACTIONS, args.duration, rate=args.rate)
    out: dict[str, Any] = {"raw_limit": raw.summary(), "mix": mix.summary()}
    if args.soak and server.env["GUNICORN_WORKERS"] == "2":
        out["soak"] = await _soak(server, users, args)
    for user in users:
        await user.client.close()
    return out


async def _soak(server: Server, users: list[lc.VirtualUser], args: Any) -> dict[str, Any]:
    samples: list[dict[str, Any]] = [{"t_s": 0, "rss_mib": server.rss_mib()}]
    started = time.monotonic()
    seconds = args.soak_minutes * 60

    async def sample() -> None:
        while time.monotonic() - started < seconds - 15:
            await asyncio.sleep(30)
            samples.append({"t_s": round(time.monotonic() - started), "rss_mib": server.rss_mib()})

    stats, _ = await asyncio.gather(lc.drive(users, ACTIONS, seconds, rate=args.rate), sample())
    samples.append({"t_s": round(time.monotonic() - started), "rss_mib": server.rss_mib()})
    start, mid, end = (
        samples[0]["rss_mib"],
        samples[len(samples) // 2]["rss_mib"],
        samples[-1]["rss_mib"],
    )
    same = set(start) == set(end)
    growth = {pid: round(end[pid] - start[pid], 1) for pid in end if pid in start}
    late = {pid: round(end[pid] - mid[pid], 1) for pid in end if pid in mid}
    flat = same and all(g <= max(5.0, 0.03 * mid[p]) for p, g in late.items())
    return {"minutes": args.soak_minutes, "mix": stats.summary(), "rss_samples": samples,
            "rss_start_mib": start, "rss_end_mib": end, "growth_mib": growth,
            "growth_second_half_mib": late, "same_workers": same, "flat": flat}  # fmt: skip


def run_backend(backend: str, args: Any) -> dict[str, Any]:
    spec = WorldSpec.scaled(args.students)
    directory, key_file, url = bench_database(
        f"load-bench-{backend}-", args.database_url if backend == "postgresql" else None
    )
    print(
        f"{backend}: building the district ({spec.students:,} students, {spec.schools} schools) …",
        flush=True,
    )
    started = time.perf_counter()
    answer = prepare_in_child(
        build_world, url, str(key_file), str(directory), json.dumps(asdict(spec))
    )
    if answer is None:
        raise SystemExit("building the district failed")
    world = json.loads(answer)
    world_s = time.perf_counter() - started
    print(f"{backend}: district built in {world_s:.0f} s", flush=True)
    if args.keep:  # the rotation benchmark can serve the same district: --from-dir DIRECTORY
        (directory / "world.json").write_text(json.dumps({"url": url, "world": world}))
        print(f"{backend}: kept in {directory}", flush=True)
    chosen = choose_users(world["users"], args.users)
    aims = _targets(url, key_file, directory, chosen)
    workers = 1 if backend == "sqlite" else 2
    server = Server(
        server_env(url, key_file, directory, workers, args.soak), directory, not args.no_scheduler
    )
    try:
        measured = asyncio.run(_load(server, chosen, aims, args))
    finally:
        server.stop()
    figures: dict[str, Any] = {
        "server": f"gunicorn -c deploy/gunicorn.conf.py, {workers} sync worker{'s' * (workers > 1)}"
                  + ("" if args.no_scheduler else ", scheduler process"),
        "students": spec.students, "users": len(chosen),
        "roles": {r: sum(u["role"] == r for u in chosen) for r in ROLE_WEIGHTS},
        "rate_target_per_s": args.rate, "world_build_s": round(world_s),
        "world_steps_s": world["steps_s"], "world_counts": world["counts"],
        **measured, "server_tracebacks": server.tracebacks(),
        "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    record = figures["mix"]["pages"].get(GOAL["page"], {})
    figures["goal"] = {**GOAL, "met": bool(record) and figures["mix"]["errors"] == 0
                       and record["p95_ms"] <= GOAL["p95_ms"] and figures["mix"]["per_s"] >= GOAL["per_s"]}  # fmt: skip
    if args.profile:
        user = chosen[0]  # a psychology teacher (choose_users lists them first): every page
        paths = PROFILE_PATHS[args.profile_page](aims[user["username"]])
        figures["profile"] = profile_page(url, key_file, directory, user, args.profile_page, paths,
                                          args.profile_requests)  # fmt: skip
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    return figures


def _targets(
    url: str, key_file: Path, directory: Path, chosen: list[dict[str, str]]
) -> dict[str, Any]:
    from wellbeing import open_keyring
    from wellbeing.core import crypto
    from wellbeing.db import Database

    from .load_world import world_settings

    db = Database(url)
    crypto.install_keyring(open_keyring(db, world_settings(url, key_file)))
    try:
        return targets(db, chosen)
    finally:
        crypto.install_keyring(None)
        db.dispose()


# --------------------------------------------------------------------------- report


def merge_results(path: Path, figures: dict[str, Any]) -> None:
    """Write each backend's figures under results["load"], keeping every other key."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.setdefault(KEY, {}).update(figures)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    tmp.replace(path)


def _line(label: str, s: dict[str, Any]) -> str:
    return (f"  {label:20} {s['requests']:>7,} req {s['per_s']:>8.1f}/s  p50 {s['p50_ms']:>7.1f}  "
            f"p95 {s['p95_ms']:>7.1f}  p99 {s['p99_ms']:>7.1f} ms  errors {s['errors']}")  # fmt: skip


def report(backend: str, f: dict[str, Any]) -> None:
    print(f"\n{backend}: {f['server']}; {f['students']:,} students; {f['users']} users {f['roles']}; "
          f"load average {f['load_average']}")  # fmt: skip
    raw = f["raw_limit"]
    print(_line(f"raw limit {STATIC}", {**raw["pages"]["static"], "per_s": raw["per_s"]}))
    for name, mix in (("mix", f["mix"]), *((("soak", f["soak"]["mix"]),) if "soak" in f else ())):
        print(f"  {name}: {mix['requests']:,} requests in {mix['seconds']} s = {mix['per_s']}/s "
              f"(target {f['rate_target_per_s'] or 'closed loop'}), errors {mix['errors']}")  # fmt: skip
        for page, s in mix["pages"].items():
            print(_line(page, s))
        if mix["ran_dry"]:
            print(f"    ran out of targets (users): {mix['ran_dry']}")
        for sample in mix["error_samples"]:
            print(f"    error: {sample}")
    if "soak" in f:
        soak = f["soak"]
        print(f"  soak RSS (MiB) start {soak['rss_start_mib']} end {soak['rss_end_mib']}; growth "
              f"{soak['growth_mib']}; memory {'flat' if soak['flat'] else 'NOT flat'}")  # fmt: skip
    goal = f["goal"]
    print(f"  goal (student record p95 ≤ {goal['p95_ms']} ms at ≥ {goal['per_s']}/s, 0 errors): "
          f"{'met' if goal['met'] else 'NOT met'}; server tracebacks: {f['server_tracebacks']}")  # fmt: skip
    if "profile" in f:
        pr = f["profile"]
        print(f"  profile of the {pr['page']} ({pr['requests']} requests in this process): "
              f"{pr['ms_per_request_profiled']} ms each under cProfile, "
              f"{pr['sql_statements_per_request']} SQL statements each")  # fmt: skip
    for line in f.get("profile", {}).get("top", []):
        print(f"    {line}")


def run(args: Any) -> dict[str, Any]:
    if args.backend in ("postgresql", "both") and not args.database_url:
        raise SystemExit(
            "--backend postgresql needs --database-url (a database that is dropped and recreated)"
        )
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    out = {}
    for backend in backends:
        out[backend] = run_backend(backend, args)
        report(backend, out[backend])
    if not args.no_results:
        merge_results(args.results, out)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench load_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--students", type=int, default=300_000)
    p.add_argument("--duration", type=float, default=60, help="seconds of the mix")
    p.add_argument("--static-seconds", type=float, default=10, help="seconds of the raw limit")
    p.add_argument("--users", type=int, default=20, help="signed-in users (several roles)")
    p.add_argument("--rate", type=float, default=150, help="requests/s of the mix; 0: closed loop")
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default=None)
    p.add_argument("--database-url", default=None, help="PostgreSQL (dropped and recreated)")
    p.add_argument("--soak", action="store_true", help="then the mix on PostgreSQL, RSS sampled")
    p.add_argument("--soak-minutes", type=float, default=10)
    p.add_argument("--profile", action="store_true", help="cProfile a page (below)")
    p.add_argument("--profile-page", choices=sorted(PROFILE_PATHS), default=GOAL["page"])
    p.add_argument("--profile-requests", type=int, default=200)
    p.add_argument("--no-scheduler", action="store_true", help="serve without the scheduler")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    p.add_argument("--no-results", action="store_true", help="do not write bench/results.json")
    p.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.backend is None:
        args.backend = "both" if args.database_url else "sqlite"
    if args.soak and args.backend == "sqlite":
        args.backend = "postgresql"  # the soak is a PostgreSQL measurement
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
