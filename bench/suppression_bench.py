"""Small-cell suppression of a district's table by class, without a database.

Run: ``.venv/bin/python -m bench suppression_bench [--schools 200] [--repeat 5] [--seed 1]``

Counts drawn as a real district's tier table by class (issue 16 item 6): ``--schools``
schools, three grades each, one to three classes a grade (about 1,200 classes for 200
schools), four tier columns: the first 20..45 a class, the others zero (a quarter), 1..9 (nearly
half) or 10..20. ``suppression.suppress`` runs on it with the default threshold (10) and zeros
shown, with the classes' grades and schools as linked tables, as ``tables.publish_table`` calls
it for a district counsellor. Prints p50/p95 wall and CPU time (the machine's load average
beside them) and the pattern's size; merged into ``bench/results.json`` under ``reports`` →
``suppression`` (other keys kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .common import percentile

RESULTS = Path(__file__).with_name("results.json")


def district_table(schools: int, seed: int) -> list[tuple[tuple[str, int, str], list[int]]]:
    rng = random.Random(seed)
    rows = []
    for s in range(schools):
        for g in range(3):
            for c in range(rng.choice((1, 2, 2, 3))):
                counts = [rng.randint(20, 45)]
                for _tier in range(3):
                    r = rng.random()
                    counts.append(
                        0 if r < 0.25 else rng.randint(1, 9) if r < 0.7 else rng.randint(10, 20)
                    )
                rows.append(((f"s{s:03d}", g, f"c{c}"), counts))
    return rows


def run(schools: int, repeat: int, seed: int) -> dict[str, Any]:
    from wellbeing.reports.suppression import Mark, suppress

    rows = district_table(schools, seed)
    wall: list[float] = []
    cpu: list[float] = []
    marks: Counter[str] = Counter()
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = suppress(rows, 4)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        marks = Counter(str(m) for m in result.marks.values())
    return {
        "schools": schools, "classes": len(rows), "numbers": sum(marks.values()),
        "primary": marks[str(Mark.PRIMARY)], "complement": marks[str(Mark.COMPLEMENT)],
        "wall_p50_ms": round(percentile(wall, 0.5) * 1000, 1),
        "wall_p95_ms": round(percentile(wall, 0.95) * 1000, 1),
        "cpu_p50_ms": round(percentile(cpu, 0.5) * 1000, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()], "seed": seed, "repeat": repeat,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip


def merge_results(path: Path, figures: dict[str, Any]) -> None:
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.setdefault("reports", {})["suppression"] = figures
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-results", action="store_true", help="do not write results.json")
    args = parser.parse_args(argv)
    f = run(args.schools, args.repeat, args.seed)
    print(f"suppression of a district by class: {f['classes']:,} classes in {f['schools']} "
          f"schools, {f['numbers']:,} numbers, {f['primary']:,} primary and {f['complement']:,} "
          f"complements")  # fmt: skip
    print(f"  wall p50 {f['wall_p50_ms']} ms p95 {f['wall_p95_ms']} ms; CPU p50 "
          f"{f['cpu_p50_ms']} ms; load average {f['load_average']}")  # fmt: skip
    if not args.no_results:
        merge_results(RESULTS, f)


if __name__ == "__main__":
    main()
