"""Scheduled work of the audit trail: the sequencer and the hourly signed checkpoint."""

from __future__ import annotations

from pathlib import Path

from ..core import audit, audit_verify
from ..core.jobs import Job, JobContext
from .services import close_expired_grants as close


def seal(ctx: JobContext) -> int:
    """Seal committed entries into the HMAC chain (every few seconds)."""
    return audit.seal_pending(ctx.db)


def checkpoint(ctx: JobContext) -> int:
    """Seal, then write a signed checkpoint of the chain head; returns its sequence number."""
    return audit_verify.write_checkpoint(
        ctx.db, Path(ctx.settings.audit_checkpoint_dir), now=ctx.now
    ).seq


def close_expired_grants(ctx: JobContext) -> int:
    """Record the end of break-glass grants that expired (every minute)."""
    with ctx.db.session() as session:
        return close(session, ctx.now)


JOBS = [
    Job("audit.seal", "wellbeing.audit.jobs:seal", seconds=5),
    Job("audit.checkpoint", "wellbeing.audit.jobs:checkpoint", cron={"minute": 0}),
    Job("audit.break_glass_expiry", "wellbeing.audit.jobs:close_expired_grants", seconds=60),
]
