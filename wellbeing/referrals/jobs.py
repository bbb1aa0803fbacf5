"""Scheduled work of the referral module: the SLA scan (every five minutes)."""

from __future__ import annotations

from ..alerts.services import using_settings
from ..core.jobs import Job, JobContext
from .sla import scan_overdue


def sla_scan(ctx: JobContext) -> int:
    """Raise a ``referral_sla`` alert for each referral past a milestone's deadline (once per
    milestone); returns how many were raised."""
    with using_settings(ctx.settings), ctx.db.session() as session:
        return scan_overdue(session, ctx.now)


JOBS = [Job(id="referrals.sla_scan", func="wellbeing.referrals.jobs:sla_scan", seconds=300)]
