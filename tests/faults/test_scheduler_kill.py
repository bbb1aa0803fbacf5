"""Fault: the active scheduler killed with SIGKILL (issue 17 item 5).

Scheduler processes (:mod:`tests.faults.scheduler_proc`: the app's scheduler, lock and job
store, with a job that records each run and its scheduled run time) run on one database: one
holds the lock and runs the job every 2 seconds, a standby waits. The active one is killed
(``kill -9``) twice (three processes were started): first while a run's transaction is open,
then at a random point of its cycle. Each time a standby takes over within a minute, and over
the whole run no scheduled run time was run twice: the job store moves past a run time when the
run is handed to the executor, and the run the kill interrupted rolled back with its process
(that run time is not run again: *at most once* per run time; every job of the app is a scan of
the current state, so the next run does the work). On SQLite (``flock``) and PostgreSQL (advisory lock).
"""

from __future__ import annotations

import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from ..conftest import BACKENDS, Env
from .helpers import cli_env, kill_group, start
from .scheduler_proc import CREATE, TABLE

pytestmark = pytest.mark.slow

INTERVAL = 2  # seconds between runs of the job
POLL = 1.0  # how often a standby tries the lock (``--poll-seconds``; 5 by default)
KILLS = 2
TAKEOVER_DEADLINE = 60.0


RUNS = text(f"SELECT scheduled_at, pid FROM {TABLE}")  # noqa: S608 (a constant name)


def runs(env: Env) -> list[tuple[str, int]]:
    with env.db.engine.connect() as conn:
        return [(r[0], int(r[1])) for r in conn.execute(RUNS)]


def wait_for(condition, deadline: float, what: str) -> float:  # type: ignore[no-untyped-def]
    """Poll ``condition`` until true; the seconds it took (fails after ``deadline``)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > deadline:
            pytest.fail(f"{what}: not within {deadline:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_active_scheduler_killed_standby_takes_over_and_no_run_twice(
    fresh_env: Env, tmp_path: Path
) -> None:
    with fresh_env.db.engine.begin() as conn:
        conn.execute(text(CREATE))
    environ = cli_env(fresh_env, FAULTS_MARKER_DIR=str(tmp_path))
    argv = [sys.executable, "-c", "from tests.faults.scheduler_proc import main; main()",
            str(INTERVAL), str(POLL)]  # fmt: skip
    # All start at once: one takes the lock, the others are standbys.
    logs = [tmp_path / f"scheduler-{n}.log" for n in range(KILLS + 1)]
    procs = {proc.pid: proc for proc in (start(argv, environ, log) for log in logs)}
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    takeovers: list[float] = []
    runs_at_kill: list[int] = []
    killed: set[int] = set()
    interrupted = ""

    def active() -> int | None:
        pids = [pid for _, pid in runs(fresh_env) if pid not in killed]
        return pids[-1] if pids else None

    try:
        wait_for(lambda: active() is not None, 60, "first run")
        for n in range(KILLS):
            pid = active()
            assert pid is not None and {p for _, p in runs(fresh_env)} - killed == {pid}, (
                "more than one scheduler ran the job"
            )
            marker = tmp_path / f"{pid}.running"
            if n == 0:  # inside a run: its transaction is open
                wait_for(marker.exists, 60, "a run started")
                kill_group(procs[pid], signal.SIGKILL)
                interrupted = marker.read_text()  # still there: the run did not finish
            else:  # a random point of the cycle
                time.sleep(rng.uniform(INTERVAL, 2 * INTERVAL))
                kill_group(procs[pid], signal.SIGKILL)
            killed.add(pid)
            runs_at_kill.append(len(runs(fresh_env)))
            takeovers.append(round(wait_for(lambda: active() is not None, TAKEOVER_DEADLINE,
                                            "a standby took over"), 1))  # fmt: skip
        last = procs[active() or 0]
        kill_group(last, signal.SIGTERM)
    finally:
        for proc in procs.values():
            kill_group(proc)
    recorded = runs(fresh_env)
    per_slot = Counter(slot for slot, _ in recorded)
    per_process = Counter(pid for _, pid in recorded)
    print(f"seed {seed}: {len(recorded)} runs of {len(per_slot)} scheduled times; runs per "
          f"process {list(per_process.values())}; runs when killed {runs_at_kill}; takeover "
          f"after the kill (s) {takeovers}")  # fmt: skip
    assert max(per_slot.values()) == 1, [s for s, c in per_slot.items() if c > 1]
    # The run the first kill interrupted rolled back, and was not run again by the standby
    # (the store had moved past it): the next interval's run does its work.
    print(f"interrupted run {interrupted}: recorded {per_slot[interrupted]} time(s)")
    assert per_slot[interrupted] == 0
    assert set(per_process) == set(procs)  # each one was active in turn
    assert last.returncode == 0
