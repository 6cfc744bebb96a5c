"""Helpers of the pytest-benchmark tests: every benchmark body asserts the time it measured."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

SCALE = 4  # the x4 protocol of the Set14 benchmarks (test_bench_metrics, test_bench_niqe)


def assert_finite_positive(value: float, what: str) -> float:
    """``value`` as a float, asserted finite and > 0 (NaN and +-inf fail)."""
    v = float(value)
    assert math.isfinite(v) and v > 0, f"{what} = {value!r}: not a finite positive number"
    return v


def timed(benchmark: Any, fn: Callable[..., Any], *args: Any, **pedantic: Any) -> tuple[Any, float]:
    """``benchmark(fn, *args)``, or ``benchmark.pedantic(fn, args, **pedantic)`` when pedantic options
    (``rounds=``, ``iterations=``, ``warmup_rounds=``) are given: (fn's result, seconds per call).

    The seconds are asserted finite and positive in both modes of pytest-benchmark. Enabled
    (``--benchmark-enable``): its mean over the rounds (``benchmark.stats``), at most the wall time of the
    whole benchmark call. Disabled (pyproject's default ``--benchmark-disable``): the fixture calls ``fn``
    once, untimed, and ``benchmark.stats`` stays None; the seconds are that call's wall time, taken here.
    """
    t0 = time.perf_counter()
    out = benchmark.pedantic(fn, args=args, **pedantic) if pedantic else benchmark(fn, *args)
    wall = time.perf_counter() - t0
    if benchmark.enabled:
        stats = benchmark.stats.stats
        assert stats.rounds >= 1, stats.rounds
        seconds = assert_finite_positive(stats.mean, "benchmark mean (s)")
        assert seconds <= wall, (seconds, wall)
    else:
        assert benchmark.stats is None
        seconds = assert_finite_positive(wall, "wall time of the one call (s)")
    return out, seconds
