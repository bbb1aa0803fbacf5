"""The one scheduler: APScheduler 3 with its job store in the application database.

* Jobs are the modules' ``jobs.JOBS`` (:class:`wellbeing.core.jobs.Job`). Each is stored as the
  textual reference ``wellbeing.core.scheduler:run_job`` with the job's dotted function path as
  its only argument, so the store holds no live objects and any process can read it.
* ``coalesce=True`` and a long ``misfire_grace_time``: after a downtime every missed job runs
  once, not once per missed interval. Stored jobs whose trigger is unchanged keep their stored
  next run time at start-up (re-adding them would push it into the future and skip the catch-up).
* Exactly one scheduler is active: it must hold a lock first -- a session-level advisory lock on
  a dedicated PostgreSQL connection, or ``flock`` on a file next to the SQLite database
  (``<db name>.scheduler.lock``). A second scheduler polls for the lock and takes over when the
  first stops (or its lock connection dies).

``wellbeing scheduler run`` (``wellbeing/notify/cli.py``) runs it in the foreground until
SIGTERM; :func:`start_in_process` runs it inside the development server (``make run``).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, pool, text

from .. import modules
from ..config import Settings, sqlite_path
from ..db import Database, make_engine, utcnow
from . import audit, crypto
from .jobs import Job, JobContext

log = logging.getLogger("wellbeing.scheduler")

JOBSTORE_TABLE = "apscheduler_jobs"  # created by APScheduler, not by the migrations
RUNNER = "wellbeing.core.scheduler:run_job"
ADVISORY_LOCK_KEY = 727002  # the audit chain uses 727001
MISFIRE_GRACE_SECONDS = 7 * 24 * 3600


# --------------------------------------------------------------------------- the job runner

_runtime: tuple[Database, Settings] | None = None


def resolve(func_path: str) -> Any:
    module_name, _, attr = func_path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def run_job(func_path: str) -> int:
    """What APScheduler calls (by textual reference): build the context and run one job."""
    if _runtime is None:
        raise RuntimeError("no active scheduler in this process")
    db, settings = _runtime
    func = resolve(func_path)
    token = audit.set_actor(
        audit.Actor(
            username=f"job:{func_path.rsplit(':', 1)[-1]}"[:64], role="system", scope="scheduler"
        )
    )
    try:
        result = func(JobContext(db=db, settings=settings, now=utcnow()))
    except Exception:
        log.exception("job %s failed", func_path)
        raise
    finally:
        audit._cli_actor.reset(token)
    log.info("job %s done: %s", func_path, result)
    return int(result or 0)


def collect_jobs() -> list[Job]:
    jobs: list[Job] = []
    for declared in modules.iter_parts("jobs", "JOBS"):
        jobs.extend(declared)
    return jobs


def _trigger(job: Job, settings: Settings) -> IntervalTrigger | CronTrigger:
    if job.seconds is not None:
        return IntervalTrigger(seconds=job.seconds, timezone=settings.tz)
    if job.cron is not None:
        return CronTrigger(timezone=settings.tz, **job.cron)
    raise ValueError(f"job {job.id} has neither seconds nor cron")


# --------------------------------------------------------------------------- locks


class SchedulerLock:
    def try_acquire(self) -> bool:
        raise NotImplementedError

    def healthy(self) -> bool:
        return True

    def release(self) -> None:
        raise NotImplementedError


class FileLock(SchedulerLock):
    """``flock`` on a file: held per open file, so two threads of one process conflict too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held while active)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class AdvisoryLock(SchedulerLock):
    """A session-level advisory lock held by a dedicated connection (autocommit, never idle in
    a transaction). If the connection dies, the server drops the lock and another scheduler may
    take it: :meth:`healthy` notices and the scheduler stands down."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
        self._conn: Any = None

    def try_acquire(self) -> bool:
        conn = self.engine.connect()
        try:
            got = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
                ).scalar()
            )
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def healthy(self) -> bool:
        try:
            self._conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            self._conn.close()
            self._conn = None
        self.engine.dispose()


class NoLock(SchedulerLock):
    """In-memory SQLite: only this process can see the database anyway."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


def lock_for(database_url: str) -> SchedulerLock:
    if database_url.startswith("postgresql"):
        return AdvisoryLock(database_url)
    path = sqlite_path(database_url)
    if path is None:
        return NoLock()
    return FileLock(path.with_name(path.name + ".scheduler.lock"))


# --------------------------------------------------------------------------- the scheduler


class Scheduler:
    """Waits for the lock, then runs the APScheduler until stopped or the lock is lost."""

    def __init__(
        self,
        settings: Settings,
        db: Database | None = None,
        *,
        jobs: Iterable[Job] | None = None,
        poll_seconds: float = 5.0,
    ) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url)
        self.jobs = list(jobs) if jobs is not None else None
        self.poll_seconds = poll_seconds
        self.name = uuid.uuid4().hex[:8]
        self.active = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._aps: BackgroundScheduler | None = None

    # ---- lifecycle
    def start(self) -> Scheduler:
        """Supervise in a background thread (returns at once)."""
        self._thread = threading.Thread(target=self.run, name=f"scheduler-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        """Block until :meth:`stop`: take the lock when free, run jobs while holding it."""
        lock = lock_for(self.settings.database_url)
        try:
            while not self._stop.is_set():
                try:
                    acquired = lock.try_acquire()
                except Exception:
                    log.exception("scheduler %s: cannot reach the database for the lock", self.name)
                    acquired = False
                if not acquired:
                    self._stop.wait(self.poll_seconds)
                    continue
                try:
                    self._activate()
                    while not self._stop.wait(self.poll_seconds):
                        if not lock.healthy():
                            log.error(
                                "scheduler %s lost its lock connection; standing down", self.name
                            )
                            break
                except Exception:
                    log.exception("scheduler %s failed; retrying", self.name)
                    self._stop.wait(self.poll_seconds)
                finally:
                    self._deactivate()
                    lock.release()
        finally:
            lock.release()

    # ---- the APScheduler
    def _activate(self) -> None:
        global _runtime
        _runtime = (self.db, self.settings)
        jobs = self.jobs if self.jobs is not None else collect_jobs()
        aps = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=make_engine(self.settings.database_url),
                                                     tablename=JOBSTORE_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
            timezone=self.settings.tz,
        )  # fmt: skip
        self._aps = aps  # so that a failure below still shuts it down
        aps.start(paused=True)
        wanted = set()
        for job in jobs:
            wanted.add(job.id)
            trigger = _trigger(job, self.settings)
            stored = aps.get_job(job.id)
            if (
                stored is not None
                and stored.func_ref == RUNNER
                and list(stored.args) == [job.func]
                and str(stored.trigger) == str(trigger)
                and str(getattr(stored.trigger, "timezone", "")) == str(trigger.timezone)
            ):
                continue  # keep its stored next run time: missed runs are caught up once
            aps.add_job(RUNNER, trigger=trigger, args=[job.func], id=job.id, name=job.id,
                        replace_existing=True)  # fmt: skip
        for stored in aps.get_jobs():
            if stored.id not in wanted:
                aps.remove_job(stored.id)
        aps.resume()
        self.active.set()
        log.info("scheduler %s active with %s job(s)", self.name, len(wanted))

    def _deactivate(self) -> None:
        if self._aps is not None:
            with contextlib.suppress(SchedulerNotRunningError):
                self._aps.shutdown(wait=True)
            self._aps = None
            log.info("scheduler %s stopped", self.name)
        self.active.clear()


_in_process: Scheduler | None = None


def start_in_process(app: Any) -> Scheduler | None:
    """Run the scheduler inside this (development) server when WELLBEING_SCHEDULER_IN_PROCESS
    is true; with several web workers run ``wellbeing scheduler run`` instead."""
    global _in_process
    settings: Settings = app.extensions["wellbeing.settings"]
    if not settings.scheduler_in_process or _in_process is not None:
        return _in_process

    crypto.install_keyring(app.extensions["wellbeing.keyring"])
    _in_process = Scheduler(settings, app.extensions["wellbeing.db"]).start()
    atexit.register(_in_process.stop)
    return _in_process
