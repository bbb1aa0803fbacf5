"""Fault: the import process killed with SIGKILL at random points (issue 17 item 5).

``wellbeing roster import`` and ``wellbeing screening import`` run as subprocesses on a file big
enough to take a few seconds and are killed (``kill -9``) after a random delay, several times.
Each attempt imports its own students (a school of its own for the roster, a group of students
of its own for the screening file), so attempts do not change each other's outcome. After each
kill the database holds all of that file or nothing of it: every table's row count moved by
zero, or by exactly what a complete import of such a file adds (a kill that landed after the
commit). A re-import of a killed file then succeeds and gives the complete result, and the
audit chain is intact. On SQLite and, when configured, PostgreSQL.

The first attempt runs to the end: its rows are the complete result and its duration scales
the delays, random fractions of it drawn from a seeded generator (seed and delays printed).
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from wellbeing.audit.models import AuditEntry
from wellbeing.core import audit_verify
from wellbeing.core.audit import AuditAction
from wellbeing.db import Base
from wellbeing.students.services import import_roster

from ..conftest import BACKENDS, Env
from ..factories import make_school
from ..screening.helpers import GAD, PHQ, open_campaign
from .helpers import cli_env, kill_group, start, wellbeing_argv, write_roster

pytestmark = pytest.mark.slow

ROSTER_ROWS = 2000
SCREENING_ROWS = 800
KILLS = 3
# Tables an import does not own: the verification record of ``audit verify``.
IGNORED = {"audit_verification"}


def snapshot(env: Env) -> dict[str, int]:
    """Rows per table (every mapped table but :data:`IGNORED`)."""
    with env.db.engine.connect() as conn:
        existing = set(inspect(conn).get_table_names())
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in Base.metadata.sorted_tables
            if t.name in existing and t.name not in IGNORED
        }


def audited(env: Env, action: AuditAction) -> int:
    with env.db.session() as session:
        stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == str(action))
        return int(session.scalar(stmt) or 0)


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    return time.monotonic() - started, done


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0)}


def kill_runs(env: Env, attempts: list[list[str]], log: Path, seed: int) -> list[dict[str, Any]]:
    """Run the first attempt to the end (its duration and its rows are the reference), then
    start each other attempt and SIGKILL it after a random fraction of that duration; returns
    what each kill left behind (row deltas), the reference first."""
    environ = cli_env(env)
    before = snapshot(env)
    duration, full = _run(attempts[0], environ)
    assert full.returncode == 0, full.stdout + full.stderr
    outcomes: list[dict[str, Any]] = [
        {"attempt": 0, "full_run_s": round(duration, 2), "delta": delta(snapshot(env), before)}
    ]
    rng = random.Random(seed)
    for n, argv in enumerate(attempts[1:], start=1):
        delay = round(rng.uniform(0.1, 0.8) * duration, 2)
        before = snapshot(env)
        proc = start(argv, environ, log)
        time.sleep(delay)
        exited_by_itself = proc.poll() is not None
        kill_group(proc)
        outcomes.append({"attempt": n, "delay_s": delay,
                         "killed": not exited_by_itself and proc.returncode == -9,
                         "delta": delta(snapshot(env), before)})  # fmt: skip
    print(f"seed {seed}:", [{k: v for k, v in o.items() if k != "delta"} for o in outcomes])
    # At least one kill landed while the import ran (the test proves nothing otherwise).
    assert any(o.get("killed") for o in outcomes), outcomes
    return outcomes


def reimport_and_check(env: Env, attempts: list[list[str]], outcomes: list[dict[str, Any]]) -> str:
    """Every kill left nothing or exactly what the complete reference import wrote; a killed
    attempt's file re-imported gives that complete result."""
    complete = outcomes[0]["delta"]
    left = ["nothing" if not o["delta"] else "all" if o["delta"] == complete else o["delta"]
            for o in outcomes[1:]]  # fmt: skip
    print("left behind:", left, "complete import:", complete)
    assert set(left) <= {"nothing", "all"}, (left, complete)
    again = next((o["attempt"] for o in outcomes[1:] if not o["delta"]), None)
    assert again is not None, "every kill landed after the commit"
    before = snapshot(env)
    _, final = _run(attempts[again], cli_env(env))
    assert final.returncode == 0, final.stdout + final.stderr
    assert delta(snapshot(env), before) == complete
    return final.stdout


def verify_audit(env: Env) -> None:
    """``audit verify --full``: the chain the killed processes wrote to is intact."""
    result = audit_verify.verify_and_record(env.db, None, full=True)
    assert result.ok and result.checked > 0, result.message


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_roster_import_killed_leaves_all_or_nothing(fresh_env: Env, tmp_path: Path) -> None:
    attempts = []
    with fresh_env.db.session() as session:
        for n in range(KILLS + 1):
            make_school(session, code=f"FLT{n}")
            roster = write_roster(tmp_path / f"roster{n}.csv", ROSTER_ROWS, start=n * ROSTER_ROWS)
            attempts.append(wellbeing_argv("roster", "import", str(roster), "--school", f"FLT{n}"))
    seed = random.randrange(1_000_000)
    outcomes = kill_runs(fresh_env, attempts, tmp_path / "kills.log", seed)

    summary = reimport_and_check(fresh_env, attempts, outcomes)
    assert f"students created: {ROSTER_ROWS}" in summary
    # The reference, any kill after its commit, and the re-import.
    imported = 1 + sum(1 for o in outcomes if o["delta"])
    with fresh_env.db.engine.connect() as conn:
        students = conn.execute(select(func.count()).select_from(Base.metadata.tables["student"]))
        assert students.scalar() == imported * ROSTER_ROWS
    assert audited(fresh_env, AuditAction.ROSTER_IMPORT) == imported
    verify_audit(fresh_env)


def write_screening(path: Path, numbers: list[str]) -> Path:
    rng = random.Random(7)
    lines = [",".join(["学号", *PHQ, *GAD])]
    for number in numbers:
        answers = [rng.choice((0, 0, 1, 1, 2, 3)) for _ in range(len(PHQ) + len(GAD))]
        lines.append(",".join([number, *map(str, answers)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_screening_import_killed_leaves_all_or_nothing(fresh_env: Env, tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "roster.csv", (KILLS + 1) * SCREENING_ROWS)
    with fresh_env.db.session() as session:
        school = make_school(session, code="FLS")
        result = import_roster(session, None, school, roster, roster.name)
        assert result.written
        campaign = open_campaign(session, [school], opens_on=dt.date.today() - dt.timedelta(days=2))
        campaign_id = campaign.id
    attempts = []
    for n in range(KILLS + 1):  # each attempt its own students, the same answers row by row
        numbers = [f"F{i:06d}" for i in range(n * SCREENING_ROWS, (n + 1) * SCREENING_ROWS)]
        results = write_screening(tmp_path / f"results{n}.csv", numbers)
        attempts.append(
            wellbeing_argv("screening", "import", str(results), "--campaign", str(campaign_id))
        )
    seed = random.randrange(1_000_000)
    outcomes = kill_runs(fresh_env, attempts, tmp_path / "kills.log", seed)

    reimport_and_check(fresh_env, attempts, outcomes)
    with fresh_env.db.engine.connect() as conn:
        responses = conn.execute(
            select(func.count()).select_from(Base.metadata.tables["screening_response"])
        ).scalar()
    # The reference, any kill after its commit, and the re-import.
    imported = 1 + sum(1 for o in outcomes if o["delta"])
    assert responses == imported * 2 * SCREENING_ROWS  # PHQ-9 and GAD-7 each
    assert audited(fresh_env, AuditAction.SCREENING_IMPORT) == imported
    verify_audit(fresh_env)
