"""``python -m bench`` lists the benchmarks; ``python -m bench NAME [ARGS]`` runs one
(``make bench`` / ``make bench BENCH="screening_bench --students 30000 --schools 20"``)."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

HERE = Path(__file__).parent
HELPERS = {"__init__", "__main__", "common", "synthetic", "duty_world", "duty_report",
           "load_world", "load_client", "load_profile", "load_server", "reports_world"}  # fmt: skip


def available() -> dict[str, str]:
    """Benchmark module → the first line of its docstring."""
    out = {}
    for path in sorted(HERE.glob("*.py")):
        if path.stem in HELPERS:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        out[path.stem] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def main(argv: list[str]) -> int:
    benches = available()
    if not argv or argv[0] not in benches:
        if argv:
            print(f"unknown benchmark {argv[0]!r}", file=sys.stderr)
        print("benchmarks (python -m bench NAME [--help]):")
        for name, line in benches.items():
            print(f"  {name:22} {line}")
        return 2 if argv else 0
    module = importlib.import_module(f"bench.{argv[0]}")
    sys.argv = [f"bench.{argv[0]}", *argv[1:]]  # for mains that read sys.argv themselves
    takes_argv = bool(inspect.signature(module.main).parameters)
    return int((module.main(argv[1:]) if takes_argv else module.main()) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
