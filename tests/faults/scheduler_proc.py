"""A scheduler process for the kill scenario (tests/faults/test_scheduler_kill.py).

It is ``wellbeing scheduler run`` (the same :class:`~wellbeing.core.scheduler.Scheduler`, lock
and job store) with one job of its own, ``faults.tick``, that records each run -- its scheduled
run time, the process and when it ran -- in the table ``fault_job_run``, in the job's one
transaction. The scheduled run time is what APScheduler hands its executor; it is passed to the
job through a thread-local (the app's jobs do not need it).

Started with ``python -c "from tests.faults.scheduler_proc import main; main()" SECONDS POLL``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from apscheduler.executors import pool
from sqlalchemy import text

from wellbeing.config import load_settings
from wellbeing.core.jobs import Job, JobContext
from wellbeing.core.scheduler import Scheduler
from wellbeing.db import Database

TABLE = "fault_job_run"
CREATE = f"CREATE TABLE {TABLE} (scheduled_at VARCHAR(40), pid INTEGER, ran_at VARCHAR(40))"
JOB_WORK_SECONDS = 1.0  # the job holds its transaction this long (a kill may land inside)

_scheduled = threading.local()
_original_run_job = pool.run_job


def _run_job(job: Any, jobstore_alias: str, run_times: list[Any], logger_name: str) -> Any:
    _scheduled.at = run_times[-1]
    return _original_run_job(job, jobstore_alias, run_times, logger_name)


def tick(ctx: JobContext) -> int:
    # ``<pid>.running`` exists while a run's transaction is open: the test may kill it there.
    marker = Path(os.environ["FAULTS_MARKER_DIR"]) / f"{os.getpid()}.running"
    with ctx.db.session() as session:
        session.execute(
            text(f"INSERT INTO {TABLE} (scheduled_at, pid, ran_at) VALUES (:s, :p, :r)"),  # noqa: S608
            {"s": _scheduled.at.isoformat(), "p": os.getpid(), "r": ctx.now.isoformat()},
        )
        marker.write_text(_scheduled.at.isoformat())
        time.sleep(JOB_WORK_SECONDS)
    marker.unlink()
    return 1


def main() -> None:
    seconds, poll = int(sys.argv[1]), float(sys.argv[2])
    pool.run_job = _run_job
    settings = load_settings()
    job = Job(id="faults.tick", func="tests.faults.scheduler_proc:tick", seconds=seconds)
    scheduler = Scheduler(settings, Database(settings.database_url), jobs=[job],
                          poll_seconds=poll)  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop(timeout=0))
    print(f"scheduler {scheduler.name} pid {os.getpid()}: waiting for the lock", flush=True)
    scheduler.run()
    print(f"scheduler {scheduler.name}: stopped", flush=True)
