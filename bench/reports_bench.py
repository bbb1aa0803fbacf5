"""Every report of the catalog at district scale: build (its queries) and publish (suppression).

Run: ``.venv/bin/python -m bench reports_bench [--students 300000] [--repeat 5] [--database-url URL]``
(``make bench BENCH="reports_bench --database-url postgresql+psycopg://postgres@127.0.0.1:5432/wb_bench_reports"``)

The world is ``bench.reports_world`` (the load benchmark's district with its campaign, tiers,
alerts, follow-ups, concerns, plans and referrals, plus acknowledged alerts, closed follow-ups
and twelve months of tier snapshots). For each report of ``catalog.specs()`` (whatever
``reports/library`` holds), in two views,

- the district: every school, as a district counsellor sees it (``filters.district``);
- one school (the first by code), as its school leader sees it;

it times, ``--repeat`` times after one warm-up run, the report's ``build`` (its queries, over
the default period: the last twelve months) and ``tables.publish_table`` of every table it
returns (suppression for a viewer who sees no raw counts), with the suppression cache cleared
before each run: what the first viewer of that data waits for; and the publishing of the largest
table a district viewer gets, the tiers by class of every school. Beside them, measured in the
same run, the raw limit: ``SELECT count(*) FROM student`` (one full pass over the table).

Figures (p50/p95 in milliseconds, the load average) are merged into ``bench/results.json``
under ``reports`` → backend (other keys kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from .common import bench_database, peak_rss_mb, percentile, prepare_in_child

KEY = "reports"
RESULTS = Path(__file__).with_name("results.json")
BUDGET_MS = 1000.0  # issue 16 item 6: every report under a second


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.5) * 1000, 2),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
    }


def merge_results(path: Path, backend: str, figures: dict[str, Any]) -> None:
    """Write ``figures`` under results[KEY][backend], keeping every other key of the file."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.setdefault(KEY, {})[backend] = figures
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def _views(session: Any, campaign: uuid.UUID | None, tz: Any, now: dt.datetime) -> dict[str, Any]:
    """(principal, filters) of the district view and of one school's."""
    from wellbeing.core.authz import Principal, Role, Scope
    from wellbeing.orgs.models import School
    from wellbeing.reports.catalog import ReportFilters
    from wellbeing.reports.report_forms import default_period

    schools = session.execute(select(School.id, School.district_id).order_by(School.code)).all()
    district_id = schools[0][1]
    start, end = default_period(now.astimezone(tz).date())

    def who(role: Role, school: uuid.UUID | None) -> Principal:
        return Principal(uuid.uuid4(), f"bench-{role.value}", (Scope(role, district_id, school),))

    every = tuple(sid for sid, _d in schools)
    one = schools[0][0]
    return {
        "district": (
            who(Role.COUNSELLOR, None),
            ReportFilters(every, True, None, start, end, campaign, tz, now),
        ),
        "school": (
            who(Role.SCHOOL_LEADER, one),
            ReportFilters((one,), False, None, start, end, campaign, tz, now),
        ),
    }


def _time_report(
    session: Any, spec: Any, principal: Any, filters: Any, repeat: int
) -> dict[str, Any]:
    from wellbeing.reports import publish
    from wellbeing.reports.tables import publish_table

    build: list[float] = []
    suppress: list[float] = []
    total: list[float] = []
    shape: dict[str, Any] = {}
    for run in range(repeat + 1):  # the first run warms the caches and is not counted
        publish._suppress.cache_clear()
        started = time.perf_counter()
        page = spec.build(session, principal, filters)
        built = time.perf_counter()
        tables = [publish_table(principal, table) for table in page.tables]
        done = time.perf_counter()
        session.rollback()  # no read transaction held between runs
        if run:
            build.append(built - started)
            suppress.append(done - built)
            total.append(done - started)
        else:
            shape = {
                "tables": {
                    t.table.key: {"rows": len(t.table.rows), "hidden": len(t.suppressed.suppressed_keys())}
                    for t in tables
                }
            }  # fmt: skip
    return {"build": _ms(build), "publish": _ms(suppress), "total": _ms(total), **shape}


def measure(db: Any, settings: Any, repeat: int) -> dict[str, Any]:
    """Time every report in both views, and the raw limit, in one session."""
    from zoneinfo import ZoneInfo

    from wellbeing import create_app
    from wellbeing.reports import catalog
    from wellbeing.screening.models import Campaign

    app = create_app(settings, db=db)
    tz = ZoneInfo(settings.timezone)
    now = dt.datetime.now(dt.UTC)
    out: dict[str, Any] = {}
    with app.test_request_context(), db.session() as session:
        campaign = session.scalars(select(Campaign.id).order_by(Campaign.created_at)).first()
        views = _views(session, campaign, tz, now)

        def raw() -> None:
            session.execute(text("SELECT count(*) FROM student")).scalar()

        raw()
        samples = _each(raw, repeat * 2)
        out["raw_limit"] = {"query": "SELECT count(*) FROM student", **_ms(samples)}
        specs = catalog.specs()
        out["specs"] = sorted(specs)
        out["missing_modules"] = [
            name for name in catalog.LIBRARY if not any(k.split(".")[0] == name for k in specs)
        ]
        reports: dict[str, Any] = {}
        for key, spec in specs.items():
            reports[key] = {}
            for view, (principal, filters) in views.items():
                try:
                    reports[key][view] = _time_report(session, spec, principal, filters, repeat)
                except Exception as exc:  # a report being written: note it, time the others
                    session.rollback()
                    reports[key][view] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        out["reports"] = reports
        out["district_by_class"] = _district_by_class(session, views["district"][0], repeat)
    return out


def _district_by_class(session: Any, principal: Any, repeat: int) -> dict[str, Any]:
    """The largest table a district viewer is published: the students' tiers by class in every
    school (the campaign results page by class), suppressed with its grades and schools."""
    from wellbeing.reports import publish
    from wellbeing.reports.tables import ReportTable, publish_table
    from wellbeing.students.models import Student

    counts: dict[tuple[Any, ...], list[int]] = {}
    query = (
        select(Student.school_id, Student.grade, Student.class_id, Student.tier, func.count())
        .where(Student.status == "active")
        .group_by(Student.school_id, Student.grade, Student.class_id, Student.tier)
    )
    for school, grade, klass, tier, n in session.execute(query):
        counts.setdefault((school, grade, klass), [0, 0, 0, 0])[int(tier)] = int(n)
    session.rollback()
    rows = [(path, counts[path]) for path in sorted(counts, key=str)]
    table = ReportTable(
        key="bench.tiers_by_class", title="", level_headings=["", "", ""],
        columns=["0", "1", "2", "3"], rows=rows, labels={}, show_depth=1,
    )  # fmt: skip

    def once() -> Any:
        publish._suppress.cache_clear()
        return publish_table(principal, table)

    published = once()
    samples = _each(once, repeat)
    return {
        "classes": len(rows), "hidden": len(published.suppressed.suppressed_keys()),
        "numbers": len(published.suppressed.values), **_ms(samples),
    }  # fmt: skip


def _each(function: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def run(
    students: int, repeat: int, database_url: str | None, results: Path | None
) -> dict[str, Any]:
    from wellbeing import open_keyring
    from wellbeing.core import crypto
    from wellbeing.db import Database

    from . import reports_world
    from .load_world import world_settings

    directory, key_file, url = bench_database("reports-bench-", database_url)
    started = time.perf_counter()
    built = prepare_in_child(reports_world.build, url, str(key_file), str(directory), students)
    if built is None:
        raise SystemExit("building the world failed")
    world = json.loads(built)
    world_s = time.perf_counter() - started
    settings = world_settings(url, key_file)
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    backend = db.engine.dialect.name
    figures = {
        "students": students, "schools": world["spec"]["schools"], "repeat": repeat,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        **measure(db, settings, repeat),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "world": {"counts": world.get("counts", {}), "extras": world.get("reports", {}),
                  "build_s": round(world_s, 1)},
        "budget_ms": BUDGET_MS, "peak_rss_mib": round(peak_rss_mb(), 1),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    db.dispose()
    shutil.rmtree(directory, ignore_errors=True)  # the key file (and a SQLite database: 1 GB)
    if results is not None:
        merge_results(results, backend, figures)
    return {"backend": backend, **figures}


def report(f: dict[str, Any]) -> None:
    raw = f["raw_limit"]
    print(f"reports on {f['backend']}: {f['students']:,} students in {f['schools']} schools, "
          f"{f['repeat']} runs each; load average {f['load_average_before']} → "
          f"{f['load_average_after']}")  # fmt: skip
    print(f"  raw limit {raw['query']}: p50 {raw['p50_ms']} ms p95 {raw['p95_ms']} ms")
    if f["missing_modules"]:
        print(f"  not written yet: {', '.join(f['missing_modules'])}")
    print(f"  {'report':<22}{'view':<10}{'build p50/p95':>18}{'publish p50/p95':>20}"
          f"{'total p50/p95 ms':>20}  × raw")  # fmt: skip
    for key, views in f["reports"].items():
        for view, t in views.items():
            if "error" in t:
                print(f"  {key:<22}{view:<10}  error: {t['error']}")
                continue
            b, p, tot = t["build"], t["publish"], t["total"]
            slow = "  SLOW" if tot["p95_ms"] > f["budget_ms"] else ""
            ratio = tot["p50_ms"] / raw["p50_ms"] if raw["p50_ms"] else float("nan")
            print(f"  {key:<22}{view:<10}{b['p50_ms']:>9.1f}/{b['p95_ms']:<8.1f}"
                  f"{p['p50_ms']:>10.1f}/{p['p95_ms']:<9.1f}{tot['p50_ms']:>10.1f}/"
                  f"{tot['p95_ms']:<9.1f}{ratio:>6.1f}{slow}")  # fmt: skip
    c = f["district_by_class"]
    print(f"  publish tiers by class, whole district ({c['classes']:,} classes, {c['numbers']:,} "
          f"numbers, {c['hidden']:,} hidden): p50 {c['p50_ms']} ms p95 {c['p95_ms']} ms")  # fmt: skip
    print(f"  peak RSS {f['peak_rss_mib']} MiB; world built in {f['world']['build_s']} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (dropped, recreated)")
    parser.add_argument("--no-results", action="store_true", help="do not write results.json")
    args = parser.parse_args(argv)
    figures = run(
        args.students, args.repeat, args.database_url, None if args.no_results else RESULTS
    )
    report(figures)


if __name__ == "__main__":
    main()
