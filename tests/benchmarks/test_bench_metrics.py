"""Metric computation on Set14 against scikit-image on the same images, in the same run.

Run with ``pytest tests/benchmarks/test_bench_metrics.py --benchmark-enable``. Group "metrics-set14": both
peers compute PSNR and SSIM of the 14 bicubic x4 outputs on the MATLAB Y channel with a 4-pixel border
crop, from the same uint8 images (the Y conversion is part of the work; skimage's ``rgb2ycbcr`` uses the same
MATLAB formula). Target: srbench at least as fast as scikit-image. Group "lpips": LPIPS per Set14 image
(random AlexNet backbone offline: the cost is the same as with ImageNet weights).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srbench.data.imresize import bicubic_lr, imresize, modcrop
from srbench.data.io import list_images, read_image
from srbench.metrics import psnr, ssim

SCALE = 4


@pytest.fixture(scope="module")
def set14_pairs(shared_datasets: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(sr, hr) uint8 HWC pairs: bicubic x4 outputs of Set14 and their modcropped HR."""
    pairs = []
    for path in list_images(shared_datasets / "Set14" / "HR"):
        hr = np.ascontiguousarray(modcrop(read_image(path), SCALE))
        pairs.append((imresize(bicubic_lr(hr, SCALE), SCALE), hr))
    return pairs


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


@pytest.mark.benchmark(group="metrics-set14")
def test_bench_metrics_srbench(benchmark, set14_pairs) -> None:  # type: ignore[no-untyped-def]
    benchmark(_srbench, set14_pairs)


@pytest.mark.benchmark(group="metrics-set14")
def test_bench_metrics_skimage(benchmark, set14_pairs) -> None:  # type: ignore[no-untyped-def]
    benchmark(_skimage, set14_pairs)


@pytest.mark.benchmark(group="lpips")
def test_bench_lpips_set14(benchmark, set14_pairs) -> None:  # type: ignore[no-untyped-def]
    from srbench.metrics.perceptual import LPIPSMetric

    metric = LPIPSMetric("alex", backbone="random")
    pairs = [(sr.transpose(2, 0, 1), hr.transpose(2, 0, 1)) for sr, hr in set14_pairs]
    benchmark(lambda: [metric(a, b, crop_border=SCALE) for a, b in pairs])
