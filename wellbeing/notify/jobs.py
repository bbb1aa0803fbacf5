"""Scheduled work of the notify module."""

from __future__ import annotations

from ..core.jobs import Job, JobContext
from .services import send_due


def send_outbox(ctx: JobContext) -> int:
    """Deliver due outbox messages (retry with backoff lives in ``send_due``)."""
    with ctx.db.session() as session:
        return send_due(session, ctx.settings, ctx.now)


JOBS = [Job(id="notify.send_outbox", func="wellbeing.notify.jobs:send_outbox", seconds=30)]
