"""Dashboard queries at district scale: 300,000 students in 200 schools with tiers set.

Run: ``.venv/bin/python -m bench.dashboard_bench [--students 300000] [--database-url URL]``

Times (p50/p95 over repetitions) the queries behind the school and district dashboards — per
school figures for one school and for the whole district, students of concern, escalated
students, SLA and monthly trends, each role's workbench (``/``) and a psychology teacher's
caseload — beside the raw limit measured in the same run: a bare
``SELECT count(*) FROM student`` (one full pass over the table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update

from .common import each_timed, peak_rss_mb, summary_ms


def _database(url: str | None, tmp: Path) -> tuple[object, object]:
    from wellbeing import open_keyring
    from wellbeing.cli import initialise
    from wellbeing.config import load_settings
    from wellbeing.core import crypto
    from wellbeing.db import Database

    key_file = tmp / "keys.json"
    crypto.write_key_file(key_file, crypto.generate_key_material())
    url = url or f"sqlite:///{tmp}/dashboard.db"
    settings = load_settings(
        environ={},
        env="development",
        database_url=url,
        key_file=str(key_file),
        secret_key="x" * 48,
    )
    initialise(settings)
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    return db, settings


def _populate(db, students: int, schools: int) -> None:  # type: ignore[no-untyped-def]
    from wellbeing.students.models import Student

    from .synthetic import generate_district

    start = time.perf_counter()
    with db.session() as session:
        generate_district(session, students=students, schools=schools)
    # Tiers as after a screening: most green, some yellow/orange, a few red (escalated).
    rng = random.Random(5)
    with db.session() as session:
        ids = list(session.scalars(select(Student.id)))
        for tier, share in ((1, 0.10), (2, 0.015), (3, 0.004)):
            chosen = rng.sample(ids, int(len(ids) * share))
            for start_at in range(0, len(chosen), 5000):
                session.execute(
                    update(Student)
                    .where(Student.id.in_(chosen[start_at : start_at + 5000]))
                    .values(tier=tier, district_involved=tier >= 2)
                )
        session.execute(text("ANALYZE"))
    print(
        f"district: {students:,} students in {schools} schools, tiers set, in {time.perf_counter() - start:.1f} s"
    )


def _workbench_cases(session, school_id, now, tz):  # type: ignore[no-untyped-def]
    """The home page of the people who open it most (its counts and first rows, audited as
    the page does) and the caseload of one school's psychology teacher."""
    from wellbeing.core.authz import Principal, Role, Scope
    from wellbeing.orgs.models import School
    from wellbeing.workbench import caseload as caseloads
    from wellbeing.workbench import services as workbench

    district_id = session.scalar(select(School.district_id).where(School.id == school_id))

    def who(role: Role, school: object = None) -> Principal:
        return Principal(uuid.uuid4(), f"bench-{role}", (Scope(role, district_id, school),))  # type: ignore[arg-type]  # a school id

    psych, leader = who(Role.PSYCH_TEACHER, school_id), who(Role.SCHOOL_LEADER, school_id)
    counsellor, supervisor = who(Role.COUNSELLOR), who(Role.SUPERVISOR)
    today = workbench.Today(now, tz)
    return {
        "workbench: psychology teacher": lambda: workbench.workbench(session, psych, today),
        "workbench: school leader": lambda: workbench.workbench(session, leader, today),
        "workbench: district counsellor": lambda: workbench.workbench(session, counsellor, today),
        "workbench: supervisor": lambda: workbench.workbench(session, supervisor, today),
        "caseload: psychology teacher of one school": lambda: caseloads.caseload(
            session, psych, caseloads.CaseloadFilter()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300_000)
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    args = parser.parse_args()

    from wellbeing.orgs.models import School
    from wellbeing.reports import queries

    with tempfile.TemporaryDirectory() as tmp:
        db, settings = _database(args.database_url, Path(tmp))
        _populate(db, args.students, args.schools)
        tz = ZoneInfo(settings.timezone)
        now = dt.datetime.now(dt.UTC)
        with db.session() as session:
            one_school = session.scalars(select(School.id).limit(1)).first()
            cases = {
                "raw limit: SELECT count(*) FROM student": lambda: session.execute(text("SELECT count(*) FROM student")).scalar(),
                "school dashboard: figures of one school": lambda: queries.school_figures(session, now, [one_school]),
                "school dashboard: tiers by grade": lambda: queries.tier_by_grade(session, one_school),
                "district dashboard: figures of every school": lambda: queries.school_figures(session, now, None),
                "district dashboard: escalated students": lambda: queries.escalated_students(session),
                "district dashboard: SLA": lambda: queries.sla(session, now - dt.timedelta(days=365), now, tz),
                "district dashboard: monthly trends": lambda: queries.monthly_counts(session, now, tz),
            }  # fmt: skip
            cases.update(_workbench_cases(session, one_school, now, tz))
            raw = None
            for label, run in cases.items():
                run()  # warm the cache
                samples = each_timed(run, args.repeat)
                p50 = sorted(samples)[len(samples) // 2]
                raw = raw or p50
                print(f"{label:<48} {summary_ms(samples)}  ({p50 / raw:.2f}× raw)")
        print(f"backend: {db.engine.dialect.name}; peak RSS {peak_rss_mb():.0f} MiB")
        db.dispose()


if __name__ == "__main__":
    main()
