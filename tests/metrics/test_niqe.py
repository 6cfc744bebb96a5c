"""NIQE against a second, plain implementation written here from the MATLAB release's description
(computequality.m / computefeature.m / estimateaggdparam.m, Mittal et al. 2013), and against MATLAB's
published value for baboon.

The reference below is deliberately naive: explicit loops over blocks, a 7x7 filter written as 49 shifted
sums over a replicate-padded image, the AGGD shape by a full ``min`` over the grid, MATLAB's imresize
contributions (bicubic, antialiased) written out for the 0.5 step, the covariance by its textbook formula.
It shares only the pristine model file with srbench, and srbench's one documented rule beyond MATLAB:
MSCN coefficients within 1e-9 of zero are float noise of an exact zero and count as zero.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from srbench.data.imresize import bicubic_lr, imresize, modcrop
from srbench.data.io import list_images, read_image
from srbench.metrics.niqe import _R_GAM, PARAMS_FILE, _nearest, niqe

SCALE = 4

# ------------------------------------------------------------------------------------ plain reference


def _ref_y(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr on uint8 HWC: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, rounded to uint8."""
    r, g, b = (rgb[:, :, i].astype(np.float64) for i in range(3))
    y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return np.floor(y + 0.5)  # MATLAB's uint8(): round half away from zero (y > 0)


def _ref_window() -> np.ndarray:
    """fspecial('gaussian', 7, 7/6)."""
    w = np.zeros((7, 7))
    for i in range(7):
        for j in range(7):
            w[i, j] = math.exp(-((i - 3) ** 2 + (j - 3) ** 2) / (2 * (7 / 6) ** 2))
    return w / w.sum()


def _ref_imfilter(im: np.ndarray, w: np.ndarray) -> np.ndarray:
    """imfilter(im, w, 'replicate') for a 7x7 w (correlation; w is symmetric anyway)."""
    p = np.pad(im, 3, mode="edge")
    out = np.zeros_like(im)
    h, wd = im.shape
    for di in range(7):
        for dj in range(7):
            out += w[di, dj] * p[di:di + h, dj:dj + wd]
    return out


def _ref_cubic(x: float) -> float:
    a = abs(x)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


def _ref_half_weights(n_in: int) -> list[list[tuple[int, float]]]:
    """MATLAB imresize contributions for scale 0.5, bicubic, antialiasing (kernel stretched to width 8)."""
    scale, width = 0.5, 4 / 0.5
    rows = []
    for x in range(1, n_in // 2 + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = []
        for k in range(int(math.ceil(width)) + 2):
            idx = left + k
            taps.append((idx, scale * _ref_cubic(scale * (u - idx))))
        total = sum(t[1] for t in taps)
        mirrored = []
        for idx, wt in taps:
            i0 = (idx - 1) % (2 * n_in)  # symmetric padding: 1..n, n..1
            i0 = i0 if i0 < n_in else 2 * n_in - 1 - i0
            mirrored.append((i0, wt / total))
        rows.append(mirrored)
    return rows


def _ref_half(im: np.ndarray) -> np.ndarray:
    h, w = im.shape
    tmp = np.zeros((h // 2, w))
    for i, taps in enumerate(_ref_half_weights(h)):  # height first (equal scales: MATLAB's order)
        for idx, wt in taps:
            tmp[i] += wt * im[idx]
    out = np.zeros((h // 2, w // 2))
    for j, taps in enumerate(_ref_half_weights(w)):
        for idx, wt in taps:
            out[:, j] += wt * tmp[:, idx]
    return out


def _ref_gamma_table() -> tuple[np.ndarray, np.ndarray]:
    gam = np.arange(0.2, 10.001, 0.001)
    r = np.array([math.gamma(2 / g) ** 2 / (math.gamma(1 / g) * math.gamma(3 / g)) for g in gam])
    return gam, r


_GAM, _RG = _ref_gamma_table()


def _ref_aggd(v: np.ndarray) -> tuple[float, float, float]:
    left = v[v < 0]
    right = v[v > 0]
    left_std = math.sqrt(np.mean(left**2)) if left.size else math.nan
    right_std = math.sqrt(np.mean(right**2)) if right.size else math.nan
    gammahat = left_std / right_std
    rhat = np.mean(np.abs(v)) ** 2 / np.mean(v**2)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    alpha = float(_GAM[int(np.argmin((_RG - rhatnorm) ** 2))])
    f = math.sqrt(math.gamma(1 / alpha) / math.gamma(3 / alpha))
    return alpha, left_std * f, right_std * f


def _ref_block_features(block: np.ndarray) -> list[float]:
    a, bl, br = _ref_aggd(block.ravel())
    feat = [a, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (-1, 1)):  # MATLAB circshift offsets
        shifted = np.roll(np.roll(block, shift[0], axis=0), shift[1], axis=1)
        a, bl, br = _ref_aggd((block * shifted).ravel())
        mean = (br - bl) * math.gamma(2 / a) / math.gamma(1 / a)
        feat += [a, mean, bl, br]
    return feat


def _ref_scale_features(im: np.ndarray, size: int, window: np.ndarray) -> list[list[float]]:
    mu = _ref_imfilter(im, window)
    sigma = np.sqrt(np.abs(_ref_imfilter(im * im, window) - mu * mu))
    mscn = (im - mu) / (sigma + 1)
    mscn[np.abs(mscn) < 1e-9] = 0.0  # the exact-arithmetic zero of flat/linear neighbourhoods (srbench's rule)
    out = []
    for bi in range(im.shape[0] // size):
        for bj in range(im.shape[1] // size):
            out.append(_ref_block_features(mscn[bi * size:(bi + 1) * size, bj * size:(bj + 1) * size]))
    return out


def ref_niqe(rgb: np.ndarray, crop: int) -> float:
    with np.load(PARAMS_FILE) as d:
        mu_p = d["mu_pris_param"].ravel()
        cov_p = d["cov_pris_param"]
    y = _ref_y(rgb)
    if crop:
        y = y[crop:-crop, crop:-crop]
    nh, nw = y.shape[0] // 96, y.shape[1] // 96
    im = y[: nh * 96, : nw * 96]
    window = _ref_window()
    f1 = _ref_scale_features(im, 96, window)
    f2 = _ref_scale_features(_ref_half(im), 48, window)
    feat = np.array([a + b for a, b in zip(f1, f2, strict=True)])
    mu = np.array([np.mean(col[~np.isnan(col)]) for col in feat.T])
    clean = feat[~np.isnan(feat).any(axis=1)]
    centred = clean - clean.mean(axis=0)
    cov = centred.T @ centred / (len(clean) - 1)
    d = mu_p - mu
    return math.sqrt(d @ np.linalg.pinv((cov_p + cov) / 2) @ d)


# ------------------------------------------------------------------------------------------- tests


def test_reference_window_is_the_shipped_window() -> None:
    with np.load(PARAMS_FILE) as d:
        np.testing.assert_allclose(d["gaussian_window"], _ref_window(), rtol=0, atol=1e-15)


def test_reference_half_resize_matches_imresize() -> None:
    """The plain 0.5 resize above and srbench's imresize agree (both claim MATLAB's imresize)."""
    im = np.random.default_rng(0).uniform(0, 255, (96, 192))
    np.testing.assert_allclose(_ref_half(im), imresize(im, 0.5), rtol=0, atol=1e-9)


def test_nearest_grid_point_is_matlab_min() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.uniform(0.0, 0.8, 5000), _R_GAM[::97], [np.nan, -1.0, 5.0]])
    want = np.array([0 if np.isnan(v) else int(np.argmin((_R_GAM - v) ** 2)) for v in values])
    np.testing.assert_array_equal(_nearest(values), want)


def _images(shared: Path, name: str) -> list[tuple[str, np.ndarray]]:
    """(id, HR modcropped) and (id x4, srbench bicubic x4 of it) as uint8 HWC."""
    out = []
    for path in list_images(shared / name / "HR"):
        hr = np.ascontiguousarray(modcrop(read_image(path), SCALE))
        if hr.shape[2] != 3:
            continue
        out.append((f"{path.stem} HR", hr))
        out.append((f"{path.stem} bicubic x4", imresize(bicubic_lr(hr, SCALE), SCALE)))
    return out


@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
def test_niqe_matches_plain_reference(shared_datasets: Path, dataset: str) -> None:
    """NIQE of Set5/Set14 HR and their bicubic x4 (crop = 4) agrees with the plain reference to 1e-3."""
    for name, img in _images(shared_datasets, dataset):
        got = niqe(img.transpose(2, 0, 1), crop_border=SCALE)
        want = ref_niqe(img, SCALE)
        assert abs(got - want) < 1e-3, f"{dataset} {name}: srbench {got:.6f}, reference {want:.6f}"


def test_niqe_matches_matlab_on_baboon(shared_datasets: Path) -> None:
    """MATLAB R2021a ``niqe`` of baboon (Set14 HR, whole image, no crop) is 5.72957338, as published in
    basicsr's calculate_niqe docstring (basicsr 1.4.2); pinned to 1e-5."""
    img = read_image(shared_datasets / "Set14" / "HR" / "baboon.png")
    assert abs(niqe(img.transpose(2, 0, 1), crop_border=0) - 5.72957338) < 1e-5


def test_niqe_input_forms_and_errors() -> None:
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (3, 200, 300), dtype=np.uint8)
    a = niqe(img, crop_border=2)
    assert a == pytest.approx(ref_niqe(img.transpose(1, 2, 0), 2), abs=1e-3)
    assert niqe(img.astype(np.float32) / 255.0, crop_border=2) == pytest.approx(a, abs=1e-9)  # [0, 1] float
    assert niqe(img[None], crop_border=2) == a  # (1, C, H, W)
    grey = niqe(img[:1], crop_border=2)  # grayscale: raw values, no Y transform
    assert math.isfinite(grey) and grey != a
    with pytest.raises(ValueError, match="two 96x96 blocks"):
        niqe(img[:, :100, :150], crop_border=4)
    with pytest.raises(ValueError, match="crop_border"):
        niqe(img, crop_border=100)
    with pytest.raises(ValueError, match="shape"):
        niqe(np.zeros((200, 300), dtype=np.uint8))


def test_niqe_of_a_flat_image_is_undefined_without_a_numpy_warning() -> None:
    """Issue 23 item 10: a flat image leaked NumPy's 'Mean of empty slice' RuntimeWarning."""
    import warnings

    from srbench.metrics.niqe import NIQEUndefined

    flat = np.full((3, 256, 256), 128, dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with pytest.raises(NIQEUndefined, match="flat"):
            niqe(flat, crop_border=4)
        with pytest.raises(NIQEUndefined, match="two 96x96 blocks"):
            niqe(flat[:, :100, :150], crop_border=4)
    assert issubclass(NIQEUndefined, ValueError)  # what niqe() raised before: callers catching it still do
