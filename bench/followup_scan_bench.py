"""One escalation + overdue scan over a district of 300,000 students with 50,000 open follow-ups.

Run: ``.venv/bin/python -m bench.followup_scan_bench [--students 300000] [--followups 50000]
[--due 500] [--database-url postgresql+psycopg://.../db]``

Builds a fresh database with a synthetic district (``bench.synthetic``), one psych teacher and
one school leader per school and a counsellor on duty, then bulk-inserts ``--followups`` open
follow-ups of which ``--due`` are past due. It then runs, each in its own transaction:

1. ``followups.services.overdue_scan`` (marks the due ones overdue, raises one alert each);
2. ``alerts.services.escalation_scan`` two days later (every new alert climbs a rung);
3. both scans again (nothing due: the steady-state cost of a scheduler tick).

For each it prints the wall time and the rows read -- rows returned by SELECTs, counted with a
``do_orm_execute`` hook -- and the query plan of the overdue scan's due-rows query.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
import uuid
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from .common import peak_rss_mb


class RowCounter:
    """Counts rows returned by SELECT statements run through ORM sessions."""

    def __init__(self) -> None:
        self.rows = 0
        self.selects = 0
        self.statements = 0

    def __call__(self, state: Any) -> Any:
        self.statements += 1
        if not state.is_select:
            return None
        result = state.invoke_statement()
        frozen = result.freeze()
        self.selects += 1
        self.rows += len(frozen.data)
        return frozen()

    def reset(self) -> None:
        self.rows = self.selects = self.statements = 0


def _staff(session: Session, settings: Any) -> None:
    from wellbeing.auth.models import Membership, User
    from wellbeing.orgs.models import School

    now = dt.datetime.now(dt.UTC)
    schools = session.execute(select(School.id, School.district_id)).all()
    users, members = [], []
    for n, (school_id, district_id) in enumerate(schools):
        for role in ("psych_teacher", "school_leader"):
            uid = uuid.uuid4()
            users.append({"id": uid, "username": f"{role[:5]}{n}", "display_name": f"{role} {n}",
                          "email": f"{role}{n}@bench.example", "password_hash": "x", "locale": "zh_CN",
                          "active": True, "totp_enabled": False, "totp_last_step": 0, "on_duty": False,
                          "created_at": now, "password_changed_at": now})  # fmt: skip
            members.append({"id": uuid.uuid4(), "user_id": uid, "role": role, "district_id": district_id,
                            "school_id": school_id, "created_at": now})  # fmt: skip
    uid = uuid.uuid4()
    users.append({"id": uid, "username": "duty", "display_name": "duty", "email": "duty@bench.example",
                  "password_hash": "x", "locale": "zh_CN", "active": True, "totp_enabled": False,
                  "totp_last_step": 0, "on_duty": True, "created_at": now, "password_changed_at": now})  # fmt: skip
    members.append({"id": uuid.uuid4(), "user_id": uid, "role": "counsellor", "district_id": schools[0][1],
                    "school_id": None, "created_at": now})  # fmt: skip
    session.execute(insert(User.__table__), users)
    session.execute(insert(Membership.__table__), members)


def _followups(session: Session, count: int, due: int, now: dt.datetime) -> None:
    from wellbeing.auth.models import Membership
    from wellbeing.followups.models import FollowUp
    from wellbeing.students.models import Student

    rng = random.Random(7)
    owners = dict(
        session.execute(
            select(Membership.school_id, Membership.user_id).where(
                Membership.role == "psych_teacher"
            )
        ).all()
    )
    students = session.execute(select(Student.id, Student.school_id)).all()
    chosen = rng.sample(students, count)
    rows = []
    for i, (student_id, school_id) in enumerate(chosen):
        due_at = (
            now - dt.timedelta(minutes=rng.randint(1, 600))
            if i < due
            else now + dt.timedelta(minutes=rng.randint(10, 60 * 24 * 30))
        )
        rows.append({"id": uuid.uuid4(), "student_id": student_id, "school_id": school_id, "owner_id": owners[school_id],
                     "due_at": due_at, "source": "cadence", "state": "open", "created_at": now})  # fmt: skip
        if len(rows) >= 10_000:
            session.execute(insert(FollowUp.__table__), rows)
            rows = []
    if rows:
        session.execute(insert(FollowUp.__table__), rows)
    # the due follow-ups' students get a tier, as cadence follow-ups imply
    ids = [s for s, _ in chosen[:count]]
    for start in range(0, len(ids), 5000):
        session.execute(
            Student.__table__.update()
            .where(Student.id.in_(ids[start : start + 5000]))
            .values(tier=2)
        )


def _plan(session: Session, now: dt.datetime) -> str:
    dialect = session.get_bind().dialect.name
    sql = (
        "SELECT id FROM followup WHERE state = 'open' AND due_at <= :now ORDER BY due_at LIMIT 1000"
    )
    if dialect == "sqlite":
        rows = session.execute(
            text("EXPLAIN QUERY PLAN " + sql), {"now": now.strftime("%Y-%m-%d %H:%M:%S.%f")}
        ).all()
        return "; ".join(str(r[-1]) for r in rows)
    rows = session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), {"now": now}).scalars().all()
    return "\n    ".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300_000)
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--followups", type=int, default=50_000)
    parser.add_argument("--due", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)

    from wellbeing import modules, open_keyring
    from wellbeing.alerts.services import escalation_scan
    from wellbeing.cli import initialise
    from wellbeing.core import crypto
    from wellbeing.db import Database
    from wellbeing.followups.services import overdue_scan

    from .common import bench_database, bench_settings
    from .synthetic import generate_district

    _directory, key_file, url = bench_database("followup-bench-", args.database_url, "bench.db")
    settings = bench_settings(url, key_file)
    initialise(settings)
    modules.import_services()
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    with db.session() as session:
        generate_district(session, students=args.students, schools=args.schools)
        _staff(session, settings)
        _followups(session, args.followups, args.due, now)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    print(f"backend: {db.engine.dialect.name}; {args.students} students, {args.followups} open follow-ups "
          f"({args.due} past due) written in {time.perf_counter() - start:.1f} s")  # fmt: skip

    counter = RowCounter()
    event.listen(db.sessionmaker, "do_orm_execute", counter)
    with db.session() as session:
        print(f"overdue scan plan: {_plan(session, now)}")
    counter.reset()

    def run(label: str, scan: Any, at: dt.datetime) -> None:
        counter.reset()
        began = time.perf_counter()
        with db.session() as session:
            changed = scan(session, at)
        took = time.perf_counter() - began
        print(f"{label}: {changed} changed, {took * 1000:.1f} ms incl. commit; rows read {counter.rows} "
              f"in {counter.selects} SELECTs ({counter.statements} ORM statements)")  # fmt: skip

    run("overdue scan (due rows)", overdue_scan, now)
    run("escalation scan (+2 days)", escalation_scan, now + dt.timedelta(days=2))
    run("overdue scan (nothing due)", overdue_scan, now)
    run("escalation scan (nothing due)", escalation_scan, now + dt.timedelta(days=2))
    print(f"peak RSS {peak_rss_mb():.0f} MiB")
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
