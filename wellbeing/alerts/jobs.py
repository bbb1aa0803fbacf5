"""Scheduler jobs of the alerts module: the escalation scan, every minute."""

from __future__ import annotations

from ..core.jobs import Job, JobContext
from . import services

JOBS = [Job("alerts.escalation_scan", "wellbeing.alerts.jobs:escalation_scan", seconds=60)]


def escalation_scan(ctx: JobContext) -> int:
    """Climb the ladder for every open alert nobody acknowledged in time (all that are due, in
    chunks; one email per person); returns steps recorded."""
    with services.using_settings(ctx.settings), ctx.db.session() as session:
        return services.escalation_scan(session, ctx.now)
