"""NIQE (Mittal, Soundararajan & Bovik 2013, "Making a completely blind image quality analyzer") as
MATLAB's ``niqe`` computes it with its pristine model, the way SR papers since PIRM 2018 report it.

Lower is better; reference-free (only the SR image is used). The steps, each matching the MATLAB release
(``niqe_release.zip``: ``computequality.m`` / ``computefeature.m`` / ``estimateaggdparam.m``) and basicsr's
port of it, which is calibrated to MATLAB R2021a (baboon: 5.7296):

1. MATLAB ``rgb2ycbcr`` Y of the 8-bit image, rounded as MATLAB's uint8 conversion rounds (half away from
   zero); grayscale images use their values as they are. Crop ``crop_border`` pixels on each side (the SR
   protocol's crop = scale), then keep the top-left whole 96 x 96 blocks (MATLAB's block size, no overlap).
2. At two scales (the image, then MATLAB ``imresize(im, 0.5)`` bicubic with antialiasing on the float
   image, blocks of 48 x 48): MSCN coefficients ``(im - mu) / (sigma + 1)`` with ``mu``, ``sigma`` from
   MATLAB's ``fspecial('gaussian', 7, 7/6)`` window and ``imfilter(..., 'replicate')`` (float noise around
   an exact zero set to zero: see ``NOISE``).
3. Per block 18 features: an AGGD fit of the coefficients (alpha, mean of the two betas) and of their products
   with the block circularly shifted by (0,1), (1,0), (1,1), (1,-1) (alpha, mean, beta_l, beta_r each). The
   AGGD shape is MATLAB's grid search over ``0.2:0.001:10``.
4. A multivariate Gaussian fit of the 36-dimensional block features (``nanmean``; covariance over the blocks
   without NaN), compared with the pristine model: ``sqrt((mu_p - mu)' pinv((C_p + C) / 2) (mu_p - mu))``.

Fast: the MSCN filtering and the per-block AGGD sums (of the coefficients and of the four shifted
products, never stored) are single-pass numba kernels (compiled once, cached on disk); every block of a
scale is fitted at once, and the grid search is a binary search in
the (strictly increasing) ratio table that returns the same grid point as MATLAB's ``min`` over the grid.
The pristine parameters (``data/niqe_pris_params.npz``) come from MATLAB's ``modelparameters.mat`` via
basicsr (Apache-2.0); see ``data/NOTICE.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import gamma

from srbench.data.imresize import imresize
from srbench.metrics.colour import rgb_to_y
from srbench.metrics.fidelity import to_chw255

BLOCK = 96  # MATLAB niqe's BlockSize [96 96]
PARAMS_FILE = Path(__file__).with_name("data") / "niqe_pris_params.npz"

# MATLAB estimateaggdparam: gam = 0.2:0.001:10 and the generalized-Gaussian ratio r(gam) on it.
_GAM = np.arange(0.2, 10.001, 0.001)
_R_GAM = np.square(gamma(2.0 / _GAM)) / (gamma(1.0 / _GAM) * gamma(3.0 / _GAM))
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))
# In a flat or linear 7x7 neighbourhood (plateaus of the rounded Y, common in bicubic and GAN output)
# ``im - mu`` is exactly 0 in exact arithmetic, and in floats a few ulps (<= ~1e-12 on the 0..255
# scale) whose sign depends on the summation order of the filter. The AGGD fit counts signs, so that
# noise moves NIQE by up to ~1e-2 between two correct implementations (MATLAB's own value there depends on
# its imfilter internals). srbench computes the exact-arithmetic value: |MSCN| below NOISE is 0. Genuine
# coefficients of an 8-bit image are many orders larger; textured images are unaffected (baboon matches
# MATLAB to 5e-7).
NOISE = 1e-9


class NIQEUndefined(ValueError):
    """NIQE has no value for this image: fewer than two whole 96 x 96 blocks, or too few blocks with
    finite features (a flat image: the AGGD fit divides by zero)."""


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu (36,), cov (36, 36), gaussian window (7, 7)) of MATLAB's pristine NIQE model."""
    with np.load(PARAMS_FILE) as d:
        mu = np.asarray(d["mu_pris_param"], dtype=np.float64).reshape(-1)
        cov = np.asarray(d["cov_pris_param"], dtype=np.float64)
        window = np.asarray(d["gaussian_window"], dtype=np.float64)
    if mu.shape != (36,) or cov.shape != (36, 36) or window.shape != (7, 7):
        raise ValueError(f"{PARAMS_FILE}: unexpected NIQE model shapes {mu.shape}, {cov.shape}, {window.shape}")
    return mu, cov, window


@lru_cache(maxsize=1)
def _window_1d() -> np.ndarray:
    """The separable factor of the 7x7 window (MATLAB's fspecial gaussian is an outer product)."""
    window = pristine_model()[2]
    g = window.sum(axis=1)
    if not np.allclose(np.outer(g, g), window, rtol=0, atol=1e-15):
        raise ValueError(f"{PARAMS_FILE}: the gaussian window is not separable")
    return g


def niqe_y(image: Any, crop_border: int = 0) -> np.ndarray:
    """The plane NIQE is computed on: rounded MATLAB Y (raw values for grayscale), border-cropped, float64."""
    chw = to_chw255(image, "image")
    plane = np.floor(rgb_to_y(chw) + 0.5) if chw.shape[0] == 3 else np.floor(chw[0] + 0.5)
    c = int(crop_border)
    if c < 0 or 2 * c >= min(plane.shape):
        raise ValueError(f"crop_border {crop_border} too large for an image of size {plane.shape}")
    return plane[c:-c, c:-c] if c else plane


def niqe(image: Any, *, crop_border: int = 0) -> float:
    """NIQE of one image (uint8 or [0, 1] float, (C, H, W) or (1, C, H, W), C = 1 or 3); lower is better.

    Raises NIQEUndefined (a ValueError) when fewer than two whole 96 x 96 blocks remain after the border
    crop, or fewer than two have finite features (a flat image): the feature covariance needs two blocks.
    """
    return niqe_of_plane(niqe_y(image, crop_border))


def niqe_of_plane(plane: np.ndarray) -> float:
    """NIQE of a float64 plane on the 0..255 scale (already Y, rounded and cropped)."""
    h, w = plane.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh * nw < 2:
        raise NIQEUndefined(f"NIQE needs at least two {BLOCK}x{BLOCK} blocks, the image (after the border crop) "
                         f"is {h}x{w}")
    im = np.ascontiguousarray(plane[: nh * BLOCK, : nw * BLOCK], dtype=np.float64)
    feats = [_features(im, BLOCK)]
    half = imresize(im, 0.5)  # MATLAB imresize(im, 0.5): bicubic, antialiased, float in -> float out
    feats.append(_features(half, BLOCK // 2))
    return _distance(np.concatenate(feats, axis=1))


def _mscn(im: np.ndarray) -> np.ndarray:
    """MSCN coefficients ``(im - mu) / (sigma + 1)``: ``mu``, ``sigma`` from the 7x7 window with replicated
    borders (``imfilter(..., 'replicate')``, rows then columns); float noise around an exact 0 is set to 0
    (see ``NOISE``)."""
    return _mscn_kernel()(np.ascontiguousarray(im, dtype=np.float64), _window_1d(), NOISE)


@functools.cache
def _mscn_kernel() -> Callable[[np.ndarray, np.ndarray, float], np.ndarray]:
    """Both window filters (of the image and of its square) and the normalisation in one pass (numba)."""
    from numba import njit

    @njit(cache=True)
    def mscn(im: np.ndarray, g: np.ndarray, noise: float) -> np.ndarray:  # pragma: no cover
        h, w = im.shape
        k = g.shape[0]
        r = k // 2
        v1 = np.zeros((h, w))
        v2 = np.zeros((h, w))
        for i in range(h):
            for t in range(k):
                row = im[min(max(i + t - r, 0), h - 1)]
                gt = g[t]
                for j in range(w):
                    x = row[j]
                    v1[i, j] += gt * x
                    v2[i, j] += gt * (x * x)
        out = np.empty((h, w))
        for i in range(h):
            for j in range(w):
                mu = 0.0
                e2 = 0.0
                for t in range(k):
                    jj = min(max(j + t - r, 0), w - 1)
                    mu += g[t] * v1[i, jj]
                    e2 += g[t] * v2[i, jj]
                o = (im[i, j] - mu) / (np.sqrt(abs(e2 - mu * mu)) + 1.0)
                out[i, j] = 0.0 if abs(o) < noise else o
        return out

    return mscn


def _blocks(x: np.ndarray, size: int) -> np.ndarray:
    """(n_blocks, size, size) view-copy of the whole blocks of ``x`` (row-major block order)."""
    nh, nw = x.shape[0] // size, x.shape[1] // size
    return x[: nh * size, : nw * size].reshape(nh, size, nw, size).transpose(0, 2, 1, 3).reshape(-1, size, size)


def _features(im: np.ndarray, size: int) -> np.ndarray:
    """(n_blocks, 18) MATLAB computefeature of every block of ``im``."""
    blocks = np.ascontiguousarray(_blocks(_mscn(im), size))
    n = blocks.shape[0]
    out = np.empty((n, 18), dtype=np.float64)
    alpha, bl, br = _aggd_from_moments(_block_moments(blocks, 0, 0, False), size * size)
    out[:, 0], out[:, 1] = alpha, (bl + br) / 2.0
    for i, (dy, dx) in enumerate(_SHIFTS):
        # products with the block circularly shifted by (dy, dx), as np.roll(block, (dy, dx)), never stored
        alpha, bl, br = _aggd_from_moments(_block_moments(blocks, dy, dx, True), size * size)
        with np.errstate(invalid="ignore"):
            mean = (br - bl) * (gamma(2.0 / alpha) / gamma(1.0 / alpha))
        out[:, 2 + 4 * i: 6 + 4 * i] = np.stack([alpha, mean, bl, br], axis=1)
    return out


@functools.cache
def _moments_kernel() -> Callable[[np.ndarray, int, int, bool], np.ndarray]:
    """The per-block sums an AGGD fit needs, in one pass (numba; compiled once, cached on disk)."""
    from numba import njit

    @njit(cache=True)
    def moments(blocks: np.ndarray, dy: int, dx: int, product: bool) -> np.ndarray:  # pragma: no cover
        n, s, _ = blocks.shape
        out = np.zeros((n, 6))
        cols = np.empty(s, dtype=np.int64)
        for j in range(s):
            cols[j] = (j - dx) % s
        for b in range(n):
            nsq = ncnt = psq = pcnt = sabs = ssq = 0.0
            for i in range(s):
                row = blocks[b, i]
                other = blocks[b, (i - dy) % s]
                for j in range(s):  # branch-free: MSCN signs are random, a branch would mispredict
                    v = row[j] * other[cols[j]] if product else row[j]
                    q = v * v
                    neg = 1.0 if v < 0 else 0.0
                    pos = 1.0 if v > 0 else 0.0
                    nsq += q * neg
                    ncnt += neg
                    psq += q * pos
                    pcnt += pos
                    sabs += abs(v)
                    ssq += q
            out[b, 0], out[b, 1], out[b, 2], out[b, 3], out[b, 4], out[b, 5] = nsq, ncnt, psq, pcnt, sabs, ssq
        return out

    return moments


def _block_moments(blocks: np.ndarray, dy: int, dx: int, product: bool) -> np.ndarray:
    """(n, 6): sum of squares and count of the negative values, the same of the positive ones, sum of
    absolute values, sum of squares; of each block (``product``: of the block times its shifted self)."""
    return _moments_kernel()(blocks, dy, dx, product)


def _aggd_from_moments(m: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alpha, beta_l, beta_r) from :func:`_block_moments`' sums over ``count`` values per row."""
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt(m[:, 0] / m[:, 1])
        right = np.sqrt(m[:, 2] / m[:, 3])
        gammahat = left / right
        rhat = np.square(m[:, 4] / count) / (m[:, 5] / count)
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / np.square(gammahat**2 + 1)
    alpha = _GAM[_nearest(rhatnorm)]
    factor = np.sqrt(gamma(1.0 / alpha) / gamma(3.0 / alpha))
    return alpha, left * factor, right * factor


def _nearest(values: np.ndarray) -> np.ndarray:
    """``argmin((_R_GAM - v) ** 2)`` for each v (first index on ties; NaN -> 0 as MATLAB's min returns)."""
    idx = np.searchsorted(_R_GAM, values)  # _R_GAM[idx - 1] < v <= _R_GAM[idx]
    lo = np.clip(idx - 1, 0, len(_R_GAM) - 1)
    hi = np.clip(idx, 0, len(_R_GAM) - 1)
    with np.errstate(invalid="ignore"):
        take_lo = np.square(_R_GAM[lo] - values) <= np.square(_R_GAM[hi] - values)
    out = np.where(take_lo, lo, hi)
    return np.where(np.isnan(values), 0, out)


def _distance(feat: np.ndarray) -> float:
    mu_p, cov_p, _ = pristine_model()
    clean = feat[~np.isnan(feat).any(axis=1)]
    if len(clean) < 2:  # checked first: nanmean of an all-NaN column warns (a RuntimeWarning errstate misses)
        raise NIQEUndefined(f"NIQE: {len(clean)} of {len(feat)} image blocks have finite features, it needs "
                            "two (a flat image?)")
    mu = np.nanmean(feat, axis=0)  # every column has a finite value (the clean blocks'): no warning
    cov = np.cov(clean, rowvar=False)
    d = mu_p - mu
    q = float(d @ np.linalg.pinv((cov_p + cov) / 2.0) @ d)
    return float(np.sqrt(q))
