"""The fused SSIM kernel (srbench.metrics.ssim_kernel) equals the numpy/scipy reference path."""

from __future__ import annotations

import numpy as np
import pytest

from srbench.metrics.fidelity import ssim_map_mean, ssim_map_mean_reference


@pytest.mark.parametrize(("h", "w"), [(11, 11), (12, 30), (57, 23), (128, 96)])
def test_fused_ssim_equals_the_reference(h: int, w: int) -> None:
    rng = np.random.default_rng(h * w)
    a = rng.integers(0, 256, (h, w)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 12, (h, w)), 0, 255).round()
    ref = ssim_map_mean_reference(a, b)
    assert ssim_map_mean(a, b) == pytest.approx(ref, abs=1e-12)
    assert ssim_map_mean(a, a) == pytest.approx(1.0, abs=1e-12)  # identical planes: SSIM 1
    assert 0.0 < ref < 1.0


def test_fused_ssim_accepts_non_contiguous_planes() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 255, (40, 60))
    b = rng.uniform(0, 255, (40, 60))
    assert ssim_map_mean(a[:, ::2], b[:, ::2]) == pytest.approx(ssim_map_mean_reference(a[:, ::2], b[:, ::2]),
                                                                abs=1e-12)
