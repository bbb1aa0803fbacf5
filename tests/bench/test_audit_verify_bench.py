"""The audit verification benchmark at a tiny size, so that it cannot rot (issue 17 item 7).
Nothing here is timed: the figures are only checked for being there and consistent."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy.engine import make_url

from bench import audit_verify_bench

from ..conftest import BACKENDS, PG_ENV

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_benchmark_runs_and_merges_its_figures(backend, tmp_path):
    url = None
    if backend == "postgresql":
        base = make_url(os.environ[PG_ENV])
        name = f"{base.database}_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_verify_bench"
        url = base.set(database=name).render_as_string(hide_password=False)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"load": {"kept": True}}))
    figures = audit_verify_bench.run(300, 40, url, results)
    audit_verify_bench.report(figures)
    data = json.loads(results.read_text())
    assert data["load"] == {"kept": True}  # other benchmarks' keys survive
    saved = data["audit_verify"][backend]
    assert saved["entries"] == 300 and saved["full"]["mode"] == "full"
    assert saved["full"]["entries"] >= 300 and saved["full"]["from_seq"] == 1
    walked = saved["checkpoint"]
    assert walked["mode"] == "checkpoint" and 40 <= walked["entries"] < saved["full"]["entries"]
    assert saved["hmac"]["one_shot_per_s"] > 0 and saved["full_vs_hmac"] > 0
