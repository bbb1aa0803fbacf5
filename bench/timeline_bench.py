"""The growth-record timeline of one student with 1,000 events, through HTTP.

Run: ``.venv/bin/python -m bench.timeline_bench [--events 1000] [--repeat 20] [--database-url URL]``

One student carries ``--events`` items spread over every contributed kind (screenings, tier
decisions, concerns, hotline calls, alerts, crises with three steps each, follow-ups and guardian
contacts). Times (p50/p95 over repetitions) a psychology teacher's ``GET
/students/<id>/timeline`` (the whole request: authorization, every module's query, decryption,
rendering, the audit entry and its commit), the same filtered to two kinds and to the last 30
days, beside the raw limit measured in the same run: one bare ``SELECT`` of the student's alert
rows (the smallest query a page about those events could make).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from .common import each_timed, peak_rss_mb, summary_ms

KIND_SHARES = {
    "screening": 0.10, "tier": 0.15, "concern": 0.15, "hotline": 0.10, "alert": 0.15,
    "crisis": 0.05, "followup": 0.20, "guardian_contact": 0.10,
}  # fmt: skip


def _database(url: str | None, tmp: Path) -> tuple[Any, Any]:
    from wellbeing import open_keyring
    from wellbeing.cli import initialise
    from wellbeing.config import load_settings
    from wellbeing.core import crypto
    from wellbeing.db import Database

    key_file = tmp / "keys.json"
    crypto.write_key_file(key_file, crypto.generate_key_material())
    url = url or f"sqlite:///{tmp}/timeline.db"
    settings = load_settings(
        environ={}, env="development", database_url=url, key_file=str(key_file),
        secret_key="x" * 48,
    )  # fmt: skip
    initialise(settings)
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    return db, settings


def _populate(session: Any, settings: Any, events: int) -> tuple[Any, Any]:
    """A school, its psychology teacher and one student with ``events`` items (a crisis counts
    itself and its three steps)."""
    from wellbeing.alerts.models import Alert, AlertState
    from wellbeing.auth.admin import create_user, grant_membership
    from wellbeing.concerns.models import Concern, HotlineCall
    from wellbeing.core.authz import Role
    from wellbeing.crisis.models import Crisis, CrisisState, CrisisStep, GuardianContact
    from wellbeing.followups.models import DONE, FollowUp
    from wellbeing.orgs.services import create_class, create_school, ensure_district
    from wellbeing.risk.models import TierDecision
    from wellbeing.screening.models import Campaign, Response
    from wellbeing.students.models import Student

    district = ensure_district(session)
    school = create_school(session, None, "B001", "基准学校")
    klass = create_class(session, None, school, 7, "1班")
    psych = create_user(
        session, None, settings, username="bench-psych", display_name="心理老师",
        password="Timeline-bench-9",  # noqa: S106 (synthetic staff; the bench starts a session)
    )  # fmt: skip
    grant_membership(session, None, psych, Role.PSYCH_TEACHER, school=school)
    student = Student(school_id=school.id, class_id=klass.id, grade=7, student_number="B0001",
                      name="王小明", sex="F", birth_date=dt.date(2012, 5, 1), tier=2,
                      district_involved=True)  # fmt: skip
    session.add(student)
    session.flush()
    now = dt.datetime.now(dt.UTC)
    ago = (now - dt.timedelta(hours=7 * i) for i in itertools.count())
    common = {"student_id": student.id, "school_id": school.id}
    rows: list[Any] = []
    for kind, share in KIND_SHARES.items():
        count = int(events * share) // (4 if kind == "crisis" else 1)
        for _ in range(count):
            at = next(ago)
            if kind == "screening":  # one campaign each: a student answers an instrument once
                campaign = Campaign(district_id=district.id, name=f"bench {at:%Y-%m-%d %H}",
                                    instruments=["phq9"], grades=[7], opens_on=at.date(),
                                    closes_on=at.date())  # fmt: skip
                session.add(campaign)
                session.flush()
                row = Response(campaign_id=campaign.id, grade=7, instrument="phq9", source="bench",
                               created_at=at, **common)  # fmt: skip
                row.data = {"scores": {"scales": {"total": {"value": 7, "band": "mild"}}}}
            elif kind == "tier":
                row = TierDecision(from_tier=1, to_tier=2, source="manual", decided_by=psych.id,
                                   decided_at=at, **common)  # fmt: skip
                row.reason = "谈话后决定"
            elif kind == "concern":
                row = Concern(reporter_id=psych.id, urgency="soon", created_at=at, **common)
                row.category, row.text = "mood", "情绪低落"
            elif kind == "hotline":
                row = HotlineCall(district_id=district.id, counsellor_id=psych.id, called_at=at,
                                  duration_minutes=10, caller_type="guardian", **common)  # fmt: skip
                row.topics = ["family"]
            elif kind == "alert":
                row = Alert(kind="red_tier", district_id=district.id, tier=3, raised_at=at,
                            due_at=at, state=AlertState.ACKNOWLEDGED, acknowledged_by_id=psych.id,
                            acknowledged_at=at, **common)  # fmt: skip
            elif kind == "crisis":
                row = Crisis(state=CrisisState.CLOSED, opened_at=at, closed_at=at,
                             closed_by_id=psych.id, **common)  # fmt: skip
                session.add(row)
                session.flush()
                rows.extend(
                    CrisisStep(crisis_id=row.id, step=step, done_at=at, done_by_id=psych.id)
                    for step in ("acknowledge", "assessment", "safety_plan")
                )
            elif kind == "followup":
                row = FollowUp(owner_id=psych.id, due_at=at, source="manual", state=DONE,
                               outcome="seen", completed_by=psych.id, **common)  # fmt: skip
            else:
                row = GuardianContact(staff_id=psych.id, relation="mother", channel="phone",
                                      contacted_at=at, **common)  # fmt: skip
                row.summary = "电话沟通"
            rows.append(row)
    session.add_all(rows)
    session.flush()
    return student, psych


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    args = parser.parse_args()

    from wellbeing import create_app
    from wellbeing.alerts.models import Alert
    from wellbeing.auth.services import start_session

    with tempfile.TemporaryDirectory() as tmp:
        db, settings = _database(args.database_url, Path(tmp))
        with db.session() as session:
            student, psych = _populate(session, settings, args.events)
            student_id, psych_id = student.id, psych.id
            session.execute(text("ANALYZE"))
        app = create_app(settings, db=db)
        client = app.test_client()
        with db.session() as session:
            from wellbeing.auth.models import User

            started = start_session(session, session.get(User, psych_id), "127.0.0.1", True)
        with client.session_transaction() as sess:
            sess["sid"] = started.token
        since = (dt.date.today() - dt.timedelta(days=30)).isoformat()
        base = f"/students/{student_id}/timeline"

        def get(url: str) -> int:
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code}")
            return response.data.count(b'class="timeline-item')

        with db.session() as session:
            raw_query = select(Alert).where(Alert.student_id == student_id)

            def raw_limit() -> int:
                found = len(session.scalars(raw_query).all())
                session.rollback()  # no read transaction held while the pages write their audit
                return found

            cases = {
                "raw limit: SELECT the student's alerts": raw_limit,
                "timeline: everything": lambda: get(base),
                "timeline: two kinds": lambda: get(f"{base}?kinds=alert&kinds=crisis"),
                "timeline: last 30 days": lambda: get(f"{base}?since={since}"),
            }
            print(f"student with {args.events} events; items on the full page: {get(base)}")
            raw = None
            for label, run in cases.items():
                run()  # warm the cache
                samples = each_timed(run, args.repeat)
                p50 = sorted(samples)[len(samples) // 2]
                raw = raw or p50
                print(f"{label:<40} {summary_ms(samples)}  ({p50 / raw:.1f}× raw)")
        print(f"backend: {db.engine.dialect.name}; peak RSS {peak_rss_mb():.0f} MiB")
        db.dispose()


if __name__ == "__main__":
    main()
