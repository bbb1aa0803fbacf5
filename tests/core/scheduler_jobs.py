"""Jobs and a process entry point for the scheduler tests (not collected: no test_ prefix)."""

from __future__ import annotations

import os
import signal
import sys
import threading

from wellbeing.config import load_settings
from wellbeing.core.jobs import Job, JobContext

LOG_ENV = "WELLBEING_TEST_SCHEDULER_LOG"


def record_run(ctx: JobContext) -> int:
    """Append "<pid> <now>" to the log file named by the environment."""
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()} {ctx.now.isoformat()}\n")
    return 1


def job(seconds: int) -> Job:
    return Job(id="test.record_run", func="tests.core.scheduler_jobs:record_run", seconds=seconds)


def main() -> None:
    """``python -c 'import tests.core.scheduler_jobs as m; m.main()' DB_URL KEY_FILE SECONDS``"""
    from wellbeing.core.scheduler import Scheduler

    url, key_file, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = load_settings(environ={}, env="development", database_url=url, key_file=key_file)
    scheduler = Scheduler(settings, jobs=[job(seconds)], poll_seconds=0.2)
    done = threading.Event()

    def _stop(*_args: object) -> None:
        scheduler.stop(timeout=0)
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    scheduler.run()
