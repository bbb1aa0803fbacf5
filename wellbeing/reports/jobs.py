"""Scheduled work of the reports module (``reports.snapshots``): the monthly tier snapshot and
the coverage tally of running screening campaigns."""

from __future__ import annotations

import logging

from ..core.jobs import Job, JobContext
from ..screening.models import Campaign
from .library.coverage import TALLY_MINUTES
from .results_tally import tally_results
from .snapshots import ClosedMonth, local_month, take_snapshot, tally_coverage, tally_due
from .suppression import ZeroPolicy

log = logging.getLogger(__name__)


def tier_snapshot(ctx: JobContext) -> int:
    """Take (or replace) this month's tier snapshot; the rows written (0 when the month is
    closed: a later month already has one)."""
    with ctx.db.session() as session:
        try:
            rows = take_snapshot(session, ctx.now, ctx.settings.tz)
        except ClosedMonth as exc:
            log.warning("tier snapshot skipped: %s", exc.message)
            return 0
    log.info("tier snapshot of %s: %d rows", local_month(ctx.now, ctx.settings.tz), rows)
    return rows


def coverage_tally(ctx: JobContext) -> int:
    """Count the screening coverage of every running campaign (and of those closed lately)
    per school and grade, each in its own transaction; the rows written."""
    today = ctx.now.astimezone(ctx.settings.tz).date()
    with ctx.db.session() as session:
        due = tally_due(session, today)
    rows = 0
    for campaign_id in due:
        with ctx.db.session() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is not None:
                rows += tally_coverage(session, campaign, ctx.now)
    return rows


def results_tally(ctx: JobContext) -> int:
    """Publish the district's results table (suppressed for a viewer who is not a case worker)
    of every running campaign and of those closed lately, each in its own transaction; the
    rows written. Run every ``TALLY_MINUTES``: the first run after a campaign closes keeps its
    final table, which the page reads from then on."""
    today = ctx.now.astimezone(ctx.settings.tz).date()
    threshold = int(ctx.settings.suppression_threshold)
    zeros = ZeroPolicy(ctx.settings.suppression_zeros)
    with ctx.db.session() as session:
        due = tally_due(session, today)
    rows = 0
    for campaign_id in due:
        with ctx.db.session() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is not None:
                rows += tally_results(session, campaign, ctx.now, threshold, zeros)
    return rows


# Daily: the last run of a month is what the month keeps (a missed day changes nothing).
JOBS = [
    Job(
        id="reports.tier_snapshot",
        func="wellbeing.reports.jobs:tier_snapshot",
        cron={"hour": 23, "minute": 30},
    ),
    Job(
        id="reports.coverage_tally",
        func="wellbeing.reports.jobs:coverage_tally",
        seconds=TALLY_MINUTES * 60,
    ),
    Job(
        id="reports.results_tally",
        func="wellbeing.reports.jobs:results_tally",
        seconds=TALLY_MINUTES * 60,
    ),
]

__all__ = ["JOBS", "coverage_tally", "results_tally", "tier_snapshot"]
