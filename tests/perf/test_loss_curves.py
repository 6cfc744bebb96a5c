"""bench_loss_curves.compare: the stated tolerance on 20-step moving averages, with made-up curves."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_loss_curves as blc  # noqa: E402


def test_moving_average() -> None:
    assert blc.moving_average([1.0, 2.0, 3.0, 4.0], window=2) == [1.5, 2.5, 3.5]


def test_compare_measures_the_largest_relative_gap_of_the_moving_averages() -> None:
    base = {k: [1.0 + 0.01 * i for i in range(40)] for k in ("content", "loss_d", "loss_g")}
    noisy = {k: [v * (1.2 if i % 2 else 0.8) for i, v in enumerate(vals)] for k, vals in base.items()}
    gaps = blc.compare(base, noisy)  # +-20 % per step averages out within the window
    assert all(g < 0.01 for g in gaps.values())
    drift = {**base, "loss_d": [v * 1.15 for v in base["loss_d"]]}
    gaps = blc.compare(base, drift)
    assert gaps["loss_d"] == pytest.approx(0.15) and gaps["loss_d"] > blc.TOLERANCE and gaps["content"] == 0.0
