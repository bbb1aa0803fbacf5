"""Small helpers shared by the benchmarks: timing, percentiles, peak memory."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
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
