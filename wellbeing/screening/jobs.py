"""Scheduler jobs of the screening module: close timed-out kiosk sessions, every 5 minutes
(a kiosk is also closed when it is used after its deadline)."""

from __future__ import annotations

from ..core.jobs import Job, JobContext
from .kiosk.service import close_expired

JOBS = [Job("screening.close_kiosks", "wellbeing.screening.jobs:close_kiosks", seconds=300)]


def close_kiosks(ctx: JobContext) -> int:
    """Close every kiosk session past its deadline; returns how many were closed."""
    with ctx.db.session() as session:
        return close_expired(session, ctx.now)
