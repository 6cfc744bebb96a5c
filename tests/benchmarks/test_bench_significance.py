"""The paired bootstrap of summary.csv at B100's size: 100 images, 10,000 resamples.

Run with ``pytest tests/benchmarks/test_bench_significance.py --benchmark-enable``. Target: under 50 ms per
(model, dataset, scale, metric) interval, so that a run's summary (models x datasets x metrics intervals)
costs well under a second. Group "bootstrap-b100": srbench's vectorised interval, and scipy.stats.bootstrap
(vectorised statistic, the same draw) for comparison. Without --benchmark-enable each runs once (a smoke test).
"""

from __future__ import annotations

import numpy as np
import pytest

from srbench.metrics.significance import N_RESAMPLES, paired_bootstrap


@pytest.fixture(scope="module")
def b100_pairs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(100)
    ref = rng.normal(25.9, 3.0, 100)  # bicubic x4 on B100: mean 25.96 dB
    return ref + 0.7 + rng.normal(0.0, 0.4, 100), ref


@pytest.mark.benchmark(group="bootstrap-b100")
def test_srbench_paired_bootstrap(benchmark, b100_pairs) -> None:
    a, b = b100_pairs
    delta, lo, hi = benchmark(paired_bootstrap, a, b)
    assert lo < delta < hi


@pytest.mark.benchmark(group="bootstrap-b100")
def test_scipy_bootstrap(benchmark, b100_pairs) -> None:
    from scipy import stats

    a, b = b100_pairs

    def run() -> tuple[float, float]:
        res = stats.bootstrap((a, b), lambda x, y, axis=-1: np.mean(x - y, axis=axis), paired=True,
                              vectorized=True, method="percentile", n_resamples=N_RESAMPLES,
                              rng=np.random.default_rng(0))
        return res.confidence_interval.low, res.confidence_interval.high

    lo, hi = benchmark(run)
    assert lo < hi
