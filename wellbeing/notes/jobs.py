"""Scheduled work of the notes module: locking drafts left unsigned past their 24 hours."""

from __future__ import annotations

from ..core.jobs import Job, JobContext
from .services import lock_overdue_drafts


def lock_drafts(ctx: JobContext) -> int:
    """Lock drafts older than 24 hours (their text frozen, shown as unsigned); how many."""
    with ctx.db.session() as session:
        return lock_overdue_drafts(session, ctx.now)


JOBS = [Job(id="notes.lock_drafts", func="wellbeing.notes.jobs:lock_drafts", seconds=600)]
