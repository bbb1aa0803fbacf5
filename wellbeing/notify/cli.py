"""``wellbeing scheduler …``: the scheduler as its own process.

The group lives here because ``wellbeing/core`` is not a module and the CLI only adds
``<module>.cli.group``; the scheduler itself is ``wellbeing.core.scheduler``.
"""

from __future__ import annotations

import signal
from typing import Any

import click

from ..core.scheduler import Scheduler


@click.group("scheduler")
def group() -> None:
    """The job scheduler (exactly one is active at a time)."""


@group.command("run")
@click.option("--poll-seconds", default=5.0, show_default=True, type=click.FloatRange(0.1, 300),
              help="How often a waiting scheduler retries the lock.")  # fmt: skip
def run(poll_seconds: float) -> None:
    """Run the scheduler in the foreground until SIGTERM/SIGINT. Several may be started: one
    holds the lock and runs the jobs, the others wait and take over when it stops."""
    from ..cli import app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx:
        scheduler = Scheduler(ctx.settings, ctx.db, poll_seconds=poll_seconds)

        def _stop(signum: int, _frame: Any) -> None:
            click.echo(f"scheduler: signal {signum}, stopping", err=True)
            scheduler.stop(timeout=0)

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        click.echo(f"scheduler {scheduler.name}: waiting for the lock", err=True)
        scheduler.run()
        click.echo(f"scheduler {scheduler.name}: stopped", err=True)
