"""The reports benchmark at a tiny size, so that it cannot rot (issue 16 item 6). Nothing here
is timed: the figures are only checked for being there and consistent."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy.engine import make_url

from bench import reports_bench
from wellbeing.reports import catalog

from ..conftest import BACKENDS, PG_ENV

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_report_is_timed_in_both_views_and_merged(backend, tmp_path, capsys):
    url = None
    if backend == "postgresql":
        base = make_url(os.environ[PG_ENV])
        name = f"{base.database}_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_reports_bench"
        url = base.set(database=name).render_as_string(hide_password=False)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"load": {"kept": True}, "reports": {"other": {"x": 1}}}))
    figures = reports_bench.run(600, 1, url, results)
    reports_bench.report(figures)
    assert "raw limit SELECT count(*) FROM student" in capsys.readouterr().out
    data = json.loads(results.read_text())
    assert data["load"] == {"kept": True}  # other benchmarks' keys survive
    assert data["reports"]["other"] == {"x": 1}  # and the other backend's figures
    saved = data["reports"][backend]
    assert saved["students"] == 600 and saved["repeat"] == 1
    assert saved["raw_limit"]["query"] == "SELECT count(*) FROM student"
    assert saved["raw_limit"]["p50_ms"] > 0
    assert saved["specs"] == sorted(catalog.specs()) and saved["specs"]
    assert saved["world"]["counts"]["student"] == 600
    assert saved["world"]["extras"]["snapshot_months"] == 12
    assert saved["world"]["extras"]["coverage_tally_rows"] > 0
    by_class = saved["district_by_class"]
    assert by_class["classes"] > 2 and by_class["numbers"] > by_class["hidden"] >= 0
    assert 0 < by_class["p50_ms"] <= by_class["p95_ms"]
    for key in saved["specs"]:
        for view in ("district", "school"):
            timed = saved["reports"][key][view]
            assert "error" not in timed, (key, view, timed)
            for part in ("build", "publish", "total"):
                assert 0 < timed[part]["p50_ms"] <= timed[part]["p95_ms"] <= timed[part]["max_ms"]
            assert timed["tables"], (key, view)  # every report returns a table
            assert all(t["rows"] >= 0 and t["hidden"] >= 0 for t in timed["tables"].values())
