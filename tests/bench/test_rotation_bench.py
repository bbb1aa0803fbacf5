"""The key-rotation benchmark at a tiny size, so that it cannot rot (issue 17 items 4 and 7):
the load benchmark's district and mix, served by gunicorn with the scheduler, while ``keys
rotate`` runs as its own process. Nothing here is timed: the run must complete, every value
must be rewritten and none left under an old key, the mix must have run before and during the
rotation, nothing may have failed, and the figures must be merged into results.json."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy.engine import make_url

from bench import rotation_bench

from ..conftest import BACKENDS, PG_ENV

pytestmark = pytest.mark.slow

MIX = {"workbench", "review queue", "student search", "student record", "timeline",
       "alert acknowledge", "concern report", "follow-up complete"}  # fmt: skip


def test_enough_students_are_built_for_the_values_asked():
    assert rotation_bench.students_for(1_000_000) == 257_000  # 1,002,300 values at 3.9 each
    assert rotation_bench.students_for(600) == 200  # the smallest world
    assert rotation_bench.students_for(39_000) * rotation_bench.VALUES_PER_STUDENT >= 39_000


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_benchmark_rotates_under_the_load_mix_and_merges_its_figures(backend, tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"audit_verify": {"kept": True}}))
    # Small batches with a pause: the rotation of a tiny district lasts a few seconds.
    argv = ["--values", "600", "--users", "6", "--rate", "30", "--warmup", "1", "--before", "3",
            "--after", "1", "--batch-size", "40", "--pause", "0.05", "--results", str(results)]  # fmt: skip
    if backend == "postgresql":
        base = make_url(os.environ[PG_ENV])
        name = f"{base.database}_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_rotation_bench"
        argv += ["--database-url", base.set(database=name).render_as_string(hide_password=False)]
    assert rotation_bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "key rotation on" in out and "failed requests in all: 0" in out
    data = json.loads(results.read_text())
    assert data["audit_verify"] == {"kept": True}  # other benchmarks' keys survive
    saved = data["key_rotation"][backend]
    assert saved["students"] == 200 and saved["purposes"] == ["identity", "clinical", "account"]
    # Every student's number and name, the screening responses, the staff's TOTP secrets.
    columns = saved["columns"]
    assert (
        columns["identity"]["student.name_ct"]
        == columns["identity"]["student.student_number_ct"]
        == 200
    )
    assert columns["clinical"]["screening_response.data_ct"] > 0
    assert columns["account"]["user_account.totp_secret_ct"] > 0
    assert saved["values"] == sum(sum(c.values()) for c in columns.values()) >= 600
    # All rewritten (and what the mix wrote under the old key meanwhile), none left behind.
    assert set(saved["rotated"]) == {"identity", "clinical", "account"}
    assert all(r["version"] == 2 for r in saved["rotated"].values())
    assert saved["rewritten"] >= saved["values"] and saved["under_old_key_after"] == 0
    for purpose in saved["purposes"]:  # the index key is not rotated
        assert saved["keys_after"][purpose] == {
            "primary": 2,
            "v1": 0,
            "v2": saved["keys_after"][purpose]["v2"],
        }
        assert saved["keys_after"][purpose]["v2"] > 0
    for phase in ("before", "during", "after"):
        assert saved[f"requests_{phase}"]["requests"] > 0, phase
        assert saved[f"requests_{phase}"]["errors"] == 0, saved[f"requests_{phase}"]
    asked = {p for phase in ("warmup", "before", "during", "after")
             for p in saved[f"requests_{phase}"]["pages"]}  # fmt: skip
    assert asked == MIX, "every page of the mix was asked for"
    assert saved["failed_requests"] == 0 and saved["server_tracebacks"] == 0
    assert saved["values_per_s"] > 0
