"""The scheduler for real: two schedulers with one active (processes and threads), take-over,
catch-up of missed runs after a downtime (coalesced: once), nothing lost while down."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select, text

from wellbeing.core.jobs import Job
from wellbeing.core.scheduler import JOBSTORE_TABLE, Scheduler, lock_for
from wellbeing.notify.jobs import JOBS as NOTIFY_JOBS
from wellbeing.notify.models import SENT, OutboxMessage
from wellbeing.notify.services import queue_email

from ..conftest import BACKENDS
from ..notify.smtp_server import start_server
from .scheduler_jobs import LOG_ENV, job

ROOT = Path(__file__).resolve().parents[2]
assert JOBSTORE_TABLE == "apscheduler_jobs"
NEXT_RUN = text("SELECT next_run_time FROM apscheduler_jobs")
JOB_IDS = text("SELECT id FROM apscheduler_jobs")
fresh_backends = pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)


def wait_for(predicate, timeout: float = 30.0, step: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll until ``predicate()`` is truthy (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def runs(log: Path) -> list[str]:
    return log.read_text().split("\n")[:-1] if log.exists() else []


@pytest.fixture
def run_log(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    log = tmp_path / "runs.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log


def _spawn(env, seconds: int, log: Path) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    code = "import tests.core.scheduler_jobs as m; m.main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, env.settings.database_url, str(env.key_file), str(seconds)],
        cwd=ROOT, env={**os.environ, LOG_ENV: str(log)},
    )  # fmt: skip


@fresh_backends
def test_two_scheduler_processes_one_active_then_takeover(fresh_env, run_log):
    first = _spawn(fresh_env, 1, run_log)
    second = None
    try:
        wait_for(lambda: len(runs(run_log)) >= 1)
        second = _spawn(fresh_env, 1, run_log)
        wait_for(lambda: len(runs(run_log)) >= 5)  # several runs while both processes live
        assert {line.split()[0] for line in runs(run_log)} == {str(first.pid)}
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
        wait_for(lambda: [line.split()[0] for line in runs(run_log)].count(str(second.pid)) >= 2)
        pids = [line.split()[0] for line in runs(run_log)]
        handover = pids.index(str(second.pid))
        # never both: the first ran alone until it stopped, then only the second
        assert set(pids[:handover]) == {str(first.pid)} and set(pids[handover:]) == {
            str(second.pid)
        }
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)


@fresh_backends
def test_two_scheduler_threads_one_active(fresh_env):
    a = Scheduler(fresh_env.settings, jobs=[], poll_seconds=0.05).start()
    b = Scheduler(fresh_env.settings, jobs=[], poll_seconds=0.05)
    try:
        assert a.active.wait(30)
        b.start()
        # B keeps polling; while A holds the lock a third try from here fails as well
        probe = lock_for(fresh_env.settings.database_url)
        assert probe.try_acquire() is False
        assert not b.active.is_set()
        a.stop()
        assert b.active.wait(30)
        assert not a.active.is_set()
    finally:
        a.stop()
        b.stop()


@fresh_backends
def test_missed_interval_runs_once_after_downtime(fresh_env, run_log):
    hourly = [job(3600)]
    first = Scheduler(fresh_env.settings, jobs=hourly, poll_seconds=0.05).start()
    assert first.active.wait(30)
    first.stop()
    assert runs(run_log) == []  # not due yet
    with fresh_env.db.engine.connect() as conn:
        stored = conn.execute(NEXT_RUN).scalar()
    # five hours of downtime: five runs were missed
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=5, minutes=1), tick=True):
        again = Scheduler(fresh_env.settings, jobs=hourly, poll_seconds=0.05).start()
        try:
            assert again.active.wait(30)
            wait_for(lambda: len(runs(run_log)) >= 1)
            time.sleep(1.0)  # room for wrongly uncoalesced extra runs to show up
            assert len(runs(run_log)) == 1
            with fresh_env.db.engine.connect() as conn:
                next_run = conn.execute(NEXT_RUN).scalar()
            assert next_run >= stored + 5 * 3600 and next_run > time.time()
        finally:
            again.stop()


@fresh_backends
def test_message_queued_while_down_is_sent_after_restart(fresh_env):
    controller, handler = start_server()
    settings = fresh_env.settings.with_overrides(smtp_url=f"smtp://127.0.0.1:{controller.port}")
    try:
        first = Scheduler(settings, jobs=NOTIFY_JOBS, poll_seconds=0.05).start()
        assert first.active.wait(30)
        first.stop()
        with fresh_env.db.session() as session:
            message = queue_email(
                session,
                address="duty@district.example",
                subject="Attention",
                body="link",
                kind="alert",
            )
        with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10), tick=True):
            again = Scheduler(settings, jobs=NOTIFY_JOBS, poll_seconds=0.05).start()
            try:
                wait_for(lambda: handler.messages)
            finally:
                again.stop()
        assert [m["To"] for m in handler.messages] == ["duty@district.example"]
        with fresh_env.db.session() as session:
            assert (
                session.scalar(select(OutboxMessage.state).where(OutboxMessage.id == message.id))
                == SENT
            )
    finally:
        controller.stop()


def test_stale_jobs_are_removed_and_changed_triggers_replaced(fresh_env):
    s = Scheduler(fresh_env.settings, jobs=[job(3600), Job("test.old", "tests.core.scheduler_jobs:record_run", seconds=60)],
                  poll_seconds=0.05).start()  # fmt: skip
    assert s.active.wait(30)
    s.stop()
    s = Scheduler(fresh_env.settings, jobs=[job(120)], poll_seconds=0.05).start()
    assert s.active.wait(30)
    s.stop()
    with fresh_env.db.engine.connect() as conn:
        ids = conn.execute(JOB_IDS).scalars().all()
    assert ids == ["test.record_run"]


def test_cli_scheduler_run_stops_on_sigterm(fresh_env):
    environ = {**os.environ, "WELLBEING_DATABASE_URL": fresh_env.settings.database_url,
               "WELLBEING_KEY_FILE": str(fresh_env.key_file)}  # fmt: skip
    proc = subprocess.Popen([str(ROOT / ".venv/bin/wellbeing"), "scheduler", "run", "--poll-seconds", "0.2"],
                            cwd=ROOT, env=environ, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:

        def stored_jobs() -> set[str]:
            with fresh_env.db.engine.connect() as conn:
                try:
                    return set(conn.execute(JOB_IDS).scalars())
                except Exception:
                    return set()

        mine = {"notify.send_outbox", "followups.overdue_scan", "followups.morning_digest"}
        assert wait_for(lambda: mine <= stored_jobs(), timeout=120)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped" in proc.stderr.read()


def test_start_in_process_for_the_dev_server(fresh_env, monkeypatch):
    from wellbeing import create_app
    from wellbeing.core import scheduler as scheduler_module

    off = create_app(fresh_env.settings, db=fresh_env.db)
    assert scheduler_module.start_in_process(off) is None  # not asked for: nothing runs
    app = create_app(fresh_env.settings.with_overrides(scheduler_in_process=True), db=fresh_env.db)
    monkeypatch.setattr(scheduler_module, "_in_process", None)
    started = scheduler_module.start_in_process(app)
    try:
        assert started is not None and started.active.wait(30)
        assert scheduler_module.start_in_process(app) is started  # once per process
    finally:
        started.stop()
