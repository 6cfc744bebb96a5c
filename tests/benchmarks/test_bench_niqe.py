"""NIQE cost against PSNR+SSIM on the same images, in the same run.

Run with ``pytest tests/benchmarks/test_bench_niqe.py --benchmark-enable``. Group "niqe-set14": the 14
bicubic x4 outputs of Set14 (srbench's MATLAB bicubic), scored through ``evaluate.score`` as a run scores
them (uint8 (C, H, W), crop = 4, MATLAB Y): once for NIQE alone, once for PSNR+SSIM. Target (issue 12):
NIQE under 2x the time of PSNR+SSIM.
"""

from __future__ import annotations

import numpy as np
import pytest

from srbench.pipeline import score
from tests.benchmarks.helpers import SCALE, assert_finite_positive, timed

# set14_pairs: the fixture in tests/benchmarks/conftest.py (the same 14 images as test_bench_metrics.py)


@pytest.fixture(scope="module")
def set14_sr(set14_pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(sr (C, H, W), hr HWC) uint8, as a run hands them to ``score``."""
    return [(np.ascontiguousarray(sr.transpose(2, 0, 1)), hr) for sr, hr in set14_pairs]


def _score(pairs: list[tuple[np.ndarray, np.ndarray]], metrics: tuple[str, ...]) -> list[dict[str, float]]:
    return [score(sr, hr, SCALE, metrics, "y", None) for sr, hr in pairs]


def test_niqe_values_are_sane(set14_sr: list[tuple[np.ndarray, np.ndarray]]) -> None:
    values = [v["niqe"] for v in _score(set14_sr, ("niqe",))]
    assert len(values) == 14 and all(np.isfinite(values)) and 3 < float(np.mean(values)) < 12


def _assert_scored(values: list[dict[str, float]], n: int, metrics: tuple[str, ...]) -> None:
    """Every image scored on exactly ``metrics``, each value finite and > 0: the timed work was done."""
    assert len(values) == n and all(set(v) == set(metrics) for v in values), values
    for v in values:
        for name in metrics:
            assert_finite_positive(v[name], name)


@pytest.mark.benchmark(group="niqe-set14")
def test_bench_niqe_set14(benchmark, set14_sr) -> None:  # type: ignore[no-untyped-def]
    values, seconds = timed(benchmark, _score, set14_sr, ("niqe",))  # seconds asserted finite and > 0
    _assert_scored(values, len(set14_sr), ("niqe",))


@pytest.mark.benchmark(group="niqe-set14")
def test_bench_psnr_ssim_set14(benchmark, set14_sr) -> None:  # type: ignore[no-untyped-def]
    values, seconds = timed(benchmark, _score, set14_sr, ("psnr", "ssim"))  # seconds asserted finite and > 0
    _assert_scored(values, len(set14_sr), ("psnr", "ssim"))
