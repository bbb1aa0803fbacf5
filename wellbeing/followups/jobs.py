"""Scheduled work of the follow-ups module: the overdue scan and the morning digest."""

from __future__ import annotations

from ..core.jobs import Job, JobContext
from .services import morning_digest as digest
from .services import overdue_scan as scan


def overdue_scan(ctx: JobContext) -> int:
    """Mark follow-ups past due as overdue and raise their alerts; returns how many."""
    with ctx.db.session() as session:
        return scan(session, ctx.now)


def morning_digest(ctx: JobContext) -> int:
    """In-app notice + e-mail per user with follow-ups due today or overdue (counts only)."""
    with ctx.db.session() as session:
        return digest(session, ctx.settings, ctx.now)


JOBS = [
    Job(id="followups.overdue_scan", func="wellbeing.followups.jobs:overdue_scan", seconds=300),
    # 07:00 in the settings' time zone (Asia/Shanghai by default)
    Job(
        id="followups.morning_digest",
        func="wellbeing.followups.jobs:morning_digest",
        cron={"hour": 7, "minute": 0},
    ),
]
