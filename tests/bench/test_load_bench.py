"""The load benchmark at a tiny size, so that it cannot rot (issue 17 items 2, 6 and 7).

A district of 2,000 students is built, served by gunicorn (1 worker on SQLite, 2 on PostgreSQL)
with the scheduler beside it, and a few signed-in users run the mix for a few seconds; on
PostgreSQL a short soak samples the workers' memory, and the student record page is profiled
once. Nothing here is timed: the run must complete, every page of the mix must have been asked
for, and nothing may have failed (no unexpected status, no broken connection, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from bench import load_bench
from wellbeing import bench_cli
from wellbeing.cli import main

from ..conftest import BACKENDS, PG_ENV

pytestmark = pytest.mark.slow

MIX = {"workbench", "review queue", "student search", "student record", "timeline",
       "alert acknowledge", "concern report", "follow-up complete"}  # fmt: skip


def _pg_url() -> str:
    base = make_url(os.environ[PG_ENV])
    name = f"{base.database}_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_load_bench"
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_load_benchmark_runs_without_errors(backend, tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"audit_verify": {"kept": True}, "load": {"other": 1}}))
    argv = ["--students", "2000", "--duration", "6", "--static-seconds", "1", "--users", "6",
            "--rate", "30", "--backend", backend, "--profile", "--profile-requests", "3",
            "--results", str(results)]  # fmt: skip
    if backend == "postgresql":
        argv += ["--database-url", _pg_url(), "--soak", "--soak-minutes", "0.1"]
    assert load_bench.main(argv) == 0
    data = json.loads(results.read_text())
    assert data["audit_verify"] == {"kept": True} and data["load"]["other"] == 1  # merged
    run = data["load"][backend]
    assert run["students"] == 2000 and run["users"] == 6
    assert set(run["roles"]) == {"psych_teacher", "school_leader", "counsellor"}
    assert run["world_counts"]["student"] == 2000 and run["world_counts"]["alert_open"] > 0
    assert run["world_counts"]["followup_open"] > 0 and run["world_counts"]["concern"] > 0
    raw = run["raw_limit"]
    assert raw["errors"] == 0 and raw["pages"]["static"]["requests"] > 0
    mix = run["mix"]
    assert mix["errors"] == 0, mix["error_samples"]
    assert set(mix["pages"]) == MIX, "every page of the mix was asked for"
    assert all(page["requests"] > 0 and page["errors"] == 0 for page in mix["pages"].values())
    assert mix["requests"] == sum(page["requests"] for page in mix["pages"].values())
    assert run["server_tracebacks"] == 0
    assert set(run["goal"]) >= {"met", "p95_ms", "per_s"}
    profile = run["profile"]
    assert profile["ok"] == profile["requests"] == 3 and "by own time:" in profile["top"]
    if backend == "postgresql":
        soak = run["soak"]
        assert soak["mix"]["errors"] == 0, soak["mix"]["error_samples"]
        assert len(soak["rss_start_mib"]) == 2 and soak["same_workers"]  # 2 workers, not recycled
        assert all(mib > 0 for mib in soak["rss_end_mib"].values())
        assert isinstance(soak["flat"], bool)
    out = capsys.readouterr().out
    assert "raw limit /static/app.css" in out and "student record" in out


def test_wellbeing_bench_load_runs_the_benchmark_of_the_checkout():
    """``wellbeing bench load`` passes its options to ``python -m bench load_bench`` (here
    ``--help``, which exits 0 with the benchmark's own usage)."""
    command = Path(sys.executable).with_name("wellbeing")
    done = subprocess.run([str(command), "bench", "load", "--help"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage: python -m bench load_bench" in done.stdout and "--database-url" in done.stdout


def test_without_a_checkout_the_command_says_where_to_run_it(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_cli, "CHECKOUT", tmp_path)
    result = CliRunner().invoke(main, ["bench", "load", "--students", "10"])
    assert result.exit_code == 2
    assert "run this from a source checkout" in result.output
