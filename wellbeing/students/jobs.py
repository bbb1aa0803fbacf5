"""Scheduled work of the students module: the retention purge of sealed records."""

from __future__ import annotations

import logging

from ..core.jobs import Job, JobContext
from .retention import purge_due

log = logging.getLogger(__name__)


def retention_purge(ctx: JobContext) -> int:
    """Purge every sealed record whose retention period ran out (one transaction and one
    tombstone each); the report names each purged student's id and the rows per table."""
    today = ctx.now.astimezone(ctx.settings.tz).date()
    run = purge_due(ctx.db, today, now=ctx.now)
    for plan in run.purged:
        log.info(
            "purged student %s (left %s, due %s): %s", plan.student_id, plan.left_at,
            plan.due_on, plan.counts,
        )  # fmt: skip
    for student_id, error in run.failed:
        log.warning("purge of student %s failed: %s", student_id, error)
    return len(run.purged)


JOBS = [
    Job(
        id="students.retention_purge",
        func="wellbeing.students.jobs:retention_purge",
        cron={"hour": 2, "minute": 40},
    )
]

__all__ = ["JOBS", "retention_purge"]
