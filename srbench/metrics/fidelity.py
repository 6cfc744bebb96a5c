"""PSNR and SSIM exactly as the field's MATLAB protocol computes them (docs/protocol.md, "Steps").

Pure functions. Inputs are images in [0, 1], float (any precision) or uint8, shaped (C, H, W) or
(1, C, H, W) with C = 1 or 3 (numpy arrays or torch tensors); the SR image is expected to be quantised to
8 bits already (the harness does that). Arithmetic is float64 on the 0..255 scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import correlate1d

from srbench.metrics.colour import rgb_to_y

DATA_RANGE = 255.0
_K1, _K2 = 0.01, 0.03
_C1, _C2 = (_K1 * DATA_RANGE) ** 2, (_K2 * DATA_RANGE) ** 2  # 6.5025, 58.5225


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """1-D factor of MATLAB's ``fspecial('gaussian', 11, 1.5)`` (normalised; separable)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


_WINDOW = _gaussian_window()


def _as_chw(image: Any, name: str) -> np.ndarray:
    """A validated (C, H, W) array (uint8, or float in [0, 1]) without converting it yet."""
    if hasattr(image, "detach"):  # torch tensor, without importing torch
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise ValueError(f"{name}: expected a single image, got a batch of shape {arr.shape}")
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[0] not in (1, 3):
        raise ValueError(f"{name}: expected shape (C, H, W) with C = 1 or 3, got {arr.shape}")
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name}: expected a float image in [0, 1] or uint8, got dtype {arr.dtype}")
    if arr.dtype != np.uint8 and not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


def to_chw255(image: Any, name: str = "image") -> np.ndarray:
    """(C, H, W) float64 on the 0..255 scale from a [0, 1] float or uint8 array/tensor."""
    arr = _as_chw(image, name)
    return arr.astype(np.float64) * (1.0 if arr.dtype == np.uint8 else DATA_RANGE)


def _planes(arr: np.ndarray, crop_border: int, y_channel: bool) -> np.ndarray:
    """Cropped (C, H, W) float64 planes on the 0..255 scale; MATLAB Y for RGB when ``y_channel``.

    Works on the uint8/float input directly (crop first, then convert) because this is on the hot path of
    every evaluation.
    """
    c = crop_border
    if c:
        arr = arr[:, c:-c, c:-c]
    unit = 1.0 if arr.dtype == np.uint8 else DATA_RANGE
    if y_channel and arr.shape[0] == 3:  # grayscale stays raw: MATLAB scripts convert only 3-channel images
        return rgb_to_y(arr, unit)[None]
    return arr.astype(np.float64) * unit


def prepare(sr: Any, hr: Any, crop_border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both images as (C, H, W) float64 0..255 planes: Y (or raw grayscale) or RGB, border-cropped."""
    a, b = _as_chw(sr, "sr"), _as_chw(hr, "hr")
    if a.shape != b.shape:
        raise ValueError(f"sr and hr shapes differ: {a.shape} vs {b.shape}")
    if crop_border < 0 or 2 * crop_border >= min(a.shape[1:]):
        raise ValueError(f"crop_border {crop_border} too large for an image of size {a.shape[1:]}")
    return _planes(a, crop_border, y_channel), _planes(b, crop_border, y_channel)


def psnr_ssim(sr: Any, hr: Any, *, crop_border: int = 0, y_channel: bool = True) -> tuple[float, float]:
    """Both fidelity metrics from one preparation of the planes (what an evaluation needs)."""
    a, b = prepare(sr, hr, crop_border, y_channel)
    return _psnr(a, b), _ssim(a, b)


def psnr(sr: Any, hr: Any, *, crop_border: int = 0, y_channel: bool = True) -> float:
    """PSNR in dB: ``10 log10(255^2 / MSE)`` over all retained values; ``inf`` for identical images."""
    return _psnr(*prepare(sr, hr, crop_border, y_channel))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(DATA_RANGE**2 / mse))


def _filter_valid(x: np.ndarray) -> np.ndarray:
    """Separable 11x11 Gaussian filtering of an (H, W) plane, 'valid' region only (no padding)."""
    r = (len(_WINDOW) - 1) // 2
    y = correlate1d(x, _WINDOW, axis=0, mode="constant")
    return correlate1d(y, _WINDOW, axis=1, mode="constant")[r:-r, r:-r]


def ssim_map_mean(a: np.ndarray, b: np.ndarray) -> float:
    """Mean of the SSIM map of two (H, W) float64 planes (Wang et al. ``ssim_index.m``).

    The hot loop of an evaluation: one fused pass (:mod:`srbench.metrics.ssim_kernel`, numba) instead of
    five filtered full-size maps; :func:`ssim_map_mean_reference` (numpy/scipy) where numba is missing.
    """
    try:
        from srbench.metrics.ssim_kernel import ssim_mean_fused  # deferred: numba compiles it on first use
    except ImportError:  # pragma: no cover - numba is a dependency
        return ssim_map_mean_reference(a, b)
    return ssim_mean_fused(a, b, _WINDOW, _C1, _C2)


def ssim_map_mean_reference(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`ssim_map_mean` with numpy/scipy: five separably filtered maps, combined in place."""
    mu_a, mu_b = _filter_valid(a), _filter_valid(b)
    e_aa, e_bb, e_ab = _filter_valid(a * a), _filter_valid(b * b), _filter_valid(a * b)
    mu_ab = mu_a * mu_b
    np.subtract(e_ab, mu_ab, out=e_ab)  # sigma_ab
    np.multiply(mu_a, mu_a, out=mu_a)
    np.multiply(mu_b, mu_b, out=mu_b)
    np.subtract(e_aa, mu_a, out=e_aa)  # sigma_a^2
    np.subtract(e_bb, mu_b, out=e_bb)  # sigma_b^2
    num = mu_ab
    num *= 2
    num += _C1
    e_ab *= 2
    e_ab += _C2
    num *= e_ab
    den = mu_a
    den += mu_b
    den += _C1
    e_aa += e_bb
    e_aa += _C2
    den *= e_aa
    num /= den
    return float(num.mean())


def ssim(sr: Any, hr: Any, *, crop_border: int = 0, y_channel: bool = True) -> float:
    """SSIM per Wang et al.: Gaussian 11x11, sigma 1.5, valid filtering, K1 = 0.01, K2 = 0.03, L = 255.

    On RGB (``y_channel=False``) it is computed per channel and averaged, as MATLAB scripts do.
    """
    return _ssim(*prepare(sr, hr, crop_border, y_channel))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    if min(a.shape[1:]) < len(_WINDOW):
        raise ValueError(f"image too small for SSIM's 11x11 window after cropping: {a.shape[1:]}")
    return float(np.mean([ssim_map_mean(a[c], b[c]) for c in range(a.shape[0])]))
