"""PSNR/SSIM pinned to analytic anchors (docs/protocol.md) and to scikit-image, an independent implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srbench.metrics import psnr, ssim
from srbench.metrics.colour import rgb_to_y


def _chw(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img.transpose(2, 0, 1))


@pytest.fixture()
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-12, 13, hr.shape), 0, 255).astype(np.uint8)
    return sr, hr


def test_analytic_anchor_plus_one_everywhere() -> None:
    hr = np.random.default_rng(0).integers(0, 255, (3, 40, 40), dtype=np.uint8)
    sr = hr + 1
    assert psnr(sr, hr, y_channel=False) == pytest.approx(20 * math.log10(255), abs=1e-4)  # 48.1308
    assert psnr(sr, hr, y_channel=False) == pytest.approx(48.1308, abs=1e-4)
    assert psnr(sr, hr, y_channel=True) == pytest.approx(20 * math.log10(255**2 / 219), abs=1e-4)  # 49.4527
    assert psnr(sr, hr, y_channel=True) == pytest.approx(49.4527, abs=1e-4)


def test_y_is_matlab_rgb2ycbcr() -> None:
    white = np.full((3, 1, 1), 255.0)
    black = np.zeros((3, 1, 1))
    assert rgb_to_y(white)[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(black)[0, 0] == pytest.approx(16.0)
    red = np.array([255.0, 0, 0]).reshape(3, 1, 1)
    assert rgb_to_y(red)[0, 0] == pytest.approx(16 + 65.481)


def test_psnr_matches_skimage_rgb_and_y(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    assert psnr(_chw(sr), _chw(hr), y_channel=False) == pytest.approx(
        peak_signal_noise_ratio(hr, sr, data_range=255), abs=1e-10)
    ys, yh = rgb_to_y(_chw(sr).astype(float)), rgb_to_y(_chw(hr).astype(float))
    c = 4
    expect = peak_signal_noise_ratio(yh[c:-c, c:-c], ys[c:-c, c:-c], data_range=255)
    assert psnr(_chw(sr), _chw(hr), crop_border=c) == pytest.approx(expect, abs=1e-10)


def test_ssim_matches_skimage(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    ys, yh = rgb_to_y(_chw(sr).astype(float)), rgb_to_y(_chw(hr).astype(float))
    c = 3
    expect_y = structural_similarity(ys[c:-c, c:-c], yh[c:-c, c:-c], **kw)
    assert ssim(_chw(sr), _chw(hr), crop_border=c) == pytest.approx(expect_y, abs=1e-12)
    expect_rgb = structural_similarity(sr.astype(float), hr.astype(float), channel_axis=2, **kw)
    assert ssim(_chw(sr), _chw(hr), y_channel=False) == pytest.approx(expect_rgb, abs=1e-12)


def test_float_inputs_in_unit_range_equal_uint8(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    a, b = _chw(sr), _chw(hr)
    assert psnr(a / 255.0, b / 255.0, crop_border=2) == pytest.approx(psnr(a, b, crop_border=2), abs=1e-9)
    assert ssim(a[None] / 255.0, b[None] / 255.0) == pytest.approx(ssim(a, b), abs=1e-12)


def test_identical_images_give_inf_and_one(pair: tuple[np.ndarray, np.ndarray]) -> None:
    _, hr = pair
    assert psnr(_chw(hr), _chw(hr)) == math.inf
    assert ssim(_chw(hr), _chw(hr)) == pytest.approx(1.0)


def test_border_crop_removes_scale_pixels_each_side(pair: tuple[np.ndarray, np.ndarray]) -> None:
    _, hr = pair
    sr = hr.copy()
    sr[:4] = 0
    sr[:, -4:] = 255
    assert psnr(_chw(sr), _chw(hr), crop_border=4) == math.inf
    assert psnr(_chw(sr), _chw(hr), crop_border=3) < 60


def test_grayscale_is_evaluated_raw_without_y() -> None:
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (1, 50, 50), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + 3, 0, 255).astype(np.uint8)
    raw = peak_signal_noise_ratio(hr[0], sr[0], data_range=255)
    assert psnr(sr, hr, y_channel=True) == pytest.approx(raw, abs=1e-10)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.zeros((3, 20, 20)), np.zeros((3, 20, 21)), "shapes differ"),
        (np.full((3, 20, 20), np.nan), np.zeros((3, 20, 20)), "NaN"),
        (np.zeros((4, 20, 20)), np.zeros((4, 20, 20)), "C = 1 or 3"),
        (np.zeros((3, 20, 20), dtype=np.int32), np.zeros((3, 20, 20), dtype=np.int32), "dtype"),
        (np.zeros((2, 3, 20, 20)), np.zeros((3, 3, 20, 20)), "batches differ"),
    ],
)
def test_bad_inputs_raise_clear_errors(a: np.ndarray, b: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        psnr(a, b)


def test_crop_too_large_is_an_error() -> None:
    x = np.zeros((3, 8, 8))
    with pytest.raises(ValueError, match="crop_border"):
        psnr(x, x, crop_border=4)


def test_psnr_ssim_together_equal_separately(pair: tuple[np.ndarray, np.ndarray]) -> None:
    from srbench.metrics.fidelity import psnr_ssim

    sr, hr = pair
    a, b = _chw(sr), _chw(hr)
    assert psnr_ssim(a, b, crop_border=2) == (psnr(a, b, crop_border=2), ssim(a, b, crop_border=2))
