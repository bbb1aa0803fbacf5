"""Small helpers shared by the benchmarks: timing, percentiles, peak memory, and a fresh
database with its key file (prepared in a child process when its memory must not count)."""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples: Sequence[float]) -> str:
    """``p50/p95/max`` of samples given in seconds, as milliseconds."""
    return (
        f"p50={percentile(samples, 0.5) * 1000:.3f} ms p95={percentile(samples, 0.95) * 1000:.3f} ms "
        f"max={max(samples) * 1000:.3f} ms mean={statistics.fmean(samples) * 1000:.3f} ms"
    )


@contextmanager
def timed(label: str, results: dict[str, float]) -> Any:
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start


def each_timed(function: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


# --------------------------------------------------------------------------- a bench database


def fresh_postgres(url: str) -> str:
    """Drop and recreate the PostgreSQL database of ``url``; returns the URL as a string."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{base.database}"'))
    admin.dispose()
    return base.render_as_string(hide_password=False)


def bench_database(
    prefix: str, database_url: str | None, name: str = "bench.db"
) -> tuple[Path, Path, str]:
    """A temporary directory with a fresh key file, and the database URL to use: the given
    PostgreSQL database recreated, or a new SQLite file in the directory."""
    from wellbeing.core import crypto

    directory = Path(tempfile.mkdtemp(prefix=prefix))
    key_file = directory / "key.json"
    crypto.write_key_file(key_file, crypto.generate_key_material())
    url = fresh_postgres(database_url) if database_url else f"sqlite:///{directory / name}"
    return directory, key_file, url


def bench_settings(url: str, key_file: Path, **overrides: Any) -> Any:
    """Settings for a bench database (cheap password hashing can be asked for: creating
    synthetic staff accounts is not what is measured)."""
    from wellbeing.config import load_settings

    return load_settings(
        environ={},
        env="development",
        database_url=url,
        key_file=str(key_file),
        secret_key="x" * 48,
        **overrides,
    )


def _child(build: Callable[..., str], args: tuple[Any, ...], queue: Any) -> None:
    try:
        queue.put(build(*args))
    except BaseException as exc:
        queue.put(f"error: {type(exc).__name__}: {exc}")
        raise


def prepare_in_child(build: Callable[..., str], *args: Any) -> str | None:
    """Run ``build(*args)`` in a forked child (so the memory it uses does not count in this
    process's peak) and return its string result; None (reason printed) when it failed."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(build, args, queue))
    child.start()
    answer = queue.get()
    child.join()
    if child.exitcode or answer.startswith("error"):
        print(f"preparation failed: {answer}", file=sys.stderr)
        return None
    return answer
