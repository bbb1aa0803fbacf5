"""The district the reports benchmark (``bench/reports_bench.py``) reads: what every report of
``wellbeing.reports.catalog`` counts, at the scale of the synthetic district.

``build(url, key_file, directory, students)`` (run in a forked child) reuses the load
benchmark's world (``bench.load_world.build_world``: schools, classes and students, staff, a
district campaign imported through the real path with its tiers, alerts, crises and
follow-ups, concerns, draft plans and referrals) without its audit top-up, then adds what only
the reports read, in bulk:

- alerts acknowledged (four in five, most within the SLA, some late), so that the SLA report
  and its time-to-acknowledge distribution have something to count;
- follow-ups closed (half of those due in the past: done, some overdue), for completion rates;
- twelve months of tier snapshots (``reports.snapshots``: this month's from the live tiers, the
  earlier ones made up from it);
- the coverage tally of the running campaign (``reports.jobs.coverage_tally``, every 15
  minutes in production), which the coverage report's district view reads.

Swappable: ``build`` is the only entry point the benchmark uses; another world (a copy of a
real district's database, say) only has to return the same JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import select, update


def build(url: str, key_file: str, directory: str, students: int) -> str:
    """(In a child process) migrate and fill the database; returns what was made, as JSON."""
    from .load_world import WorldSpec, build_world

    spec = replace(WorldSpec.scaled(students), audit_entries=0)
    made = json.loads(build_world(url, key_file, directory, json.dumps(spec.__dict__)))
    started = time.perf_counter()
    made["reports"] = _for_reports(url, key_file)
    made.setdefault("steps_s", {})["reports extras"] = round(time.perf_counter() - started, 1)
    made.pop("users", None)  # thousands of accounts: not needed by the benchmark
    return json.dumps(made)


def _for_reports(url: str, key_file: str) -> dict[str, Any]:
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from wellbeing import open_keyring
    from wellbeing.alerts.models import Alert
    from wellbeing.core import crypto
    from wellbeing.db import Database
    from wellbeing.followups.models import FollowUp
    from wellbeing.reports import snapshots
    from wellbeing.screening.models import Campaign

    from .load_world import world_settings

    settings = world_settings(url, Path(key_file))
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    rng = random.Random(17)
    now = dt.datetime.now(dt.UTC)
    out: dict[str, Any] = {}
    with db.session() as session:
        alerts = session.execute(select(Alert.id, Alert.raised_at, Alert.due_at)).all()
        acked: list[dict[str, Any]] = []
        for alert_id, raised, due in alerts:
            if rng.random() >= 0.8:
                continue
            within = rng.random() < 0.85 and due is not None
            span = (due - raised) if within else dt.timedelta(hours=rng.randint(1, 96))
            at = raised + span * rng.random() if within else raised + span
            acked.append({"id": alert_id, "acknowledged_at": min(at, now), "state": "acknowledged"})
        for chunk in range(0, len(acked), 5000):
            session.execute(update(Alert), acked[chunk : chunk + 5000])  # by primary key
        out["alerts_acknowledged"] = len(acked)
        due = session.scalars(
            select(FollowUp.id).where(FollowUp.due_at < now + dt.timedelta(days=10))
        ).all()
        closed = rng.sample(list(due), len(due) // 2)  # half of those due within ten days
        for chunk in range(0, len(closed), 5000):
            session.execute(
                update(FollowUp).where(FollowUp.id.in_(closed[chunk : chunk + 5000]))
                .values(state="done", completed_at=now)
            )  # fmt: skip
        out["followups_done"] = len(closed)
        tz = ZoneInfo(settings.timezone)
        out["snapshot_months"] = snapshots.seed_past_months(session, now, tz, months=11)
    rows = 0  # the coverage job's count per school and grade, as it runs every 15 minutes
    with db.session() as session:
        for campaign_id in snapshots.tally_due(session, now.astimezone(tz).date()):
            campaign = session.get(Campaign, campaign_id)
            if campaign is not None:
                rows += snapshots.tally_coverage(session, campaign, now)
    out["coverage_tally_rows"] = rows
    db.dispose()
    return out
