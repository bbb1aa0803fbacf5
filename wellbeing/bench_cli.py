"""``wellbeing bench``: the benchmarks of a source checkout, run from the command line.

The benchmarks live in ``bench/`` at the root of the repository, beside the package, and are
not installed with it (they need the synthetic district, gunicorn and a scratch database). So
these commands do not import them: they run ``python -m bench NAME ARGS`` in the checkout this
package was loaded from, and say so plainly when the package is installed without one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

CHECKOUT = Path(__file__).resolve().parent.parent
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _run(name: str, args: tuple[str, ...]) -> None:
    if not (CHECKOUT / "bench" / f"{name}.py").is_file():
        click.echo(f"error: the benchmarks are not installed with the package: run this from a "
                   f"source checkout (no bench/{name}.py next to {CHECKOUT / 'wellbeing'})",
                   err=True)  # fmt: skip
        sys.exit(2)
    command = [sys.executable, "-m", "bench", name, *args]
    sys.exit(subprocess.call(command, cwd=CHECKOUT))  # noqa: S603 (our interpreter, our module)


@click.group()
def bench() -> None:
    """Benchmarks of a source checkout (bench/): figures written to bench/results.json."""


@bench.command("load", context_settings=PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def load(args: tuple[str, ...]) -> None:
    """The load benchmark: a mix of signed-in users over HTTP on SQLite and PostgreSQL.

    Every option is passed to ``python -m bench load_bench`` (see ``wellbeing bench load
    --help``), e.g. ``--students 300000 --duration 60 --database-url postgresql+psycopg://…``.
    """
    _run("load_bench", args)


@bench.command("run", context_settings=PASS_THROUGH)
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(name: str, args: tuple[str, ...]) -> None:
    """Any benchmark of bench/ by NAME (``python -m bench`` lists them), with its options."""
    _run(name, args)
