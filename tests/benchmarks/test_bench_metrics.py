"""Metric computation on Set14 against scikit-image on the same images, in the same run.

Run with ``pytest tests/benchmarks/test_bench_metrics.py --benchmark-enable``. Group "metrics-set14": both
peers compute PSNR and SSIM of the 14 bicubic x4 outputs on the MATLAB Y channel with a 4-pixel border
crop, from the same uint8 images (the Y conversion is part of the work; skimage's ``rgb2ycbcr`` uses the same
MATLAB formula). Target: srbench at least as fast as scikit-image. Group "lpips": LPIPS per Set14 image
(random AlexNet backbone offline: the cost is the same as with ImageNet weights).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srbench.metrics import psnr, ssim
from tests.benchmarks.helpers import SCALE, assert_finite_positive, timed

# set14_pairs: the fixture in tests/benchmarks/conftest.py (shared with test_bench_niqe.py)


def _srbench(pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[float, float]]:
    out = []
    for sr, hr in pairs:
        a, b = sr.transpose(2, 0, 1), hr.transpose(2, 0, 1)
        out.append((psnr(a, b, crop_border=SCALE), ssim(a, b, crop_border=SCALE)))
    return out


def _y(img: np.ndarray) -> np.ndarray:
    return img[:, :, 0].astype(np.float64) if img.shape[2] == 1 else rgb2ycbcr(img)[:, :, 0]


def _skimage(pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[float, float]]:
    out = []
    c = SCALE
    for sr, hr in pairs:
        ys, yh = _y(sr)[c:-c, c:-c], _y(hr)[c:-c, c:-c]
        out.append((
            peak_signal_noise_ratio(yh, ys, data_range=255),
            structural_similarity(ys, yh, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=255),
        ))
    return out


def test_peers_compute_the_same_numbers(set14_pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    np.testing.assert_allclose(_srbench(set14_pairs), _skimage(set14_pairs), rtol=0, atol=1e-9)


def _assert_psnr_ssim(values: list[tuple[float, float]], n: int) -> None:
    """One finite (PSNR dB > 0, 0 < SSIM <= 1) per image: the work the benchmark timed was done."""
    assert len(values) == n
    for p, s in values:
        assert_finite_positive(p, "psnr")
        assert 0 < assert_finite_positive(s, "ssim") <= 1


@pytest.mark.benchmark(group="metrics-set14")
def test_bench_metrics_srbench(benchmark, set14_pairs) -> None:  # type: ignore[no-untyped-def]
    values, seconds = timed(benchmark, _srbench, set14_pairs)  # seconds asserted finite and > 0
    _assert_psnr_ssim(values, len(set14_pairs))


@pytest.mark.benchmark(group="metrics-set14")
def test_bench_metrics_skimage(benchmark, set14_pairs) -> None:  # type: ignore[no-untyped-def]
    values, seconds = timed(benchmark, _skimage, set14_pairs)  # seconds asserted finite and > 0
    _assert_psnr_ssim(values, len(set14_pairs))


@pytest.mark.benchmark(group="lpips")
def test_bench_lpips_set14(benchmark, set14_pairs) -> None:  # type: ignore[no-untyped-def]
    from srbench.metrics.perceptual import LPIPSMetric

    metric = LPIPSMetric("alex", backbone="random")
    pairs = [(sr.transpose(2, 0, 1), hr.transpose(2, 0, 1)) for sr, hr in set14_pairs]
    values, seconds = timed(benchmark, lambda: [metric(a, b, crop_border=SCALE) for a, b in pairs])
    assert len(values) == len(pairs)
    assert all(math.isfinite(v) and v >= 0 for v in values), values  # a distance: 0 only for equal images
