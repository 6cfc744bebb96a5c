"""bench_loss_curves.compare: bf16 within the fp32 envelope (stated tolerance), with made-up curves."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_loss_curves as blc  # noqa: E402

N = 120


def curves(f) -> dict[str, list[float]]:
    return {k: [f(k, i) for i in range(N)] for k in blc.LOSSES}


def decay(k: str, i: int) -> float:
    return {"content": 1.0, "loss_d": 1.4, "loss_g": 1.1}[k] * math.exp(-i / 60) + 0.1


def wobble(amplitude: float, phase: float):
    return lambda k, i: decay(k, i) * (1 + amplitude * math.sin(i / 7 + phase))


def test_moving_average() -> None:
    assert blc.moving_average([1.0, 2.0, 3.0, 4.0], window=2) == [1.5, 2.5, 3.5]


def test_gap_is_the_mean_absolute_difference_of_the_moving_averages() -> None:
    a = curves(decay)
    b = curves(lambda k, i: decay(k, i) + 0.25)
    assert blc.gap(a, b) == pytest.approx(dict.fromkeys(blc.LOSSES, 0.25))
    noisy = curves(lambda k, i: decay(k, i) + (0.3 if i % 2 else -0.3))  # per-step noise averages out
    assert all(g < 1e-2 for g in blc.gap(a, noisy).values())


def test_bf16_inside_the_fp32_envelope_matches() -> None:
    fp32, perturbed = curves(decay), curves(wobble(0.2, 0.0))
    verdict = blc.compare(fp32, perturbed, curves(wobble(0.2, 1.5)))  # another draw of the same spread
    assert all(v["ok"] for v in verdict.values()), verdict


@pytest.mark.parametrize("broken", [
    lambda k, i: decay(k, 0),                                         # stalls: the loss never falls
    lambda k, i: decay(k, i) * 1.5,                                   # a 50 % bias
    lambda k, i: decay(k, i) * math.exp(i / 40) if k == "loss_d" else decay(k, i),  # one loss diverges
])
def test_a_broken_bf16_path_leaves_the_envelope(broken) -> None:
    verdict = blc.compare(curves(decay), curves(wobble(0.05, 0.0)), curves(broken))
    assert not all(v["ok"] for v in verdict.values()), verdict


def test_the_floor_allows_small_gaps_when_the_envelope_is_narrow() -> None:
    fp32 = curves(decay)
    verdict = blc.compare(fp32, fp32, curves(lambda k, i: decay(k, i) * 1.01))  # envelope 0, gap 1 %
    assert all(v["ok"] for v in verdict.values())
    verdict = blc.compare(fp32, fp32, curves(lambda k, i: decay(k, i) * 1.05))  # 5 % > the 2 % floor
    assert not any(v["ok"] for v in verdict.values())
