"""MATLAB-compatible imresize: pinned to the official MATLAB-made Set5 LR files (bit-exact) and to an
independent, slow, obviously-correct reference written here straight from docs/protocol.md, "Steps"."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from srbench.data import imresize as imresize_module
from srbench.data.imresize import bicubic_lr, imresize, modcrop, output_size
from srbench.data.io import read_image

SET5 = ("baby", "bird", "butterfly", "head", "woman")

try:
    import numba  # noqa: F401

    BACKENDS = ["numba", "numpy"]
except ImportError:  # the numpy backend is the fallback; it is always tested
    BACKENDS = ["numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SRBENCH_IMRESIZE_BACKEND", request.param)
    return str(request.param)


# --------------------------------------------------------------------------------------------------
# The independent reference: one output pixel at a time, straight from the protocol's formulas.


def _keys_cubic(x: float) -> float:
    """Keys (1981) cubic convolution kernel in its general form, a = -0.5."""
    a = -0.5
    t = abs(x)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t <= 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def _mirror(j: int, n: int) -> int:
    """Symmetric padding of 1-based index j into 1..n (edge pixel repeated: 0 -> 1, n+1 -> n)."""
    while j < 1 or j > n:
        j = 1 - j if j < 1 else 2 * n + 1 - j
    return j


def _ref_line(line: list[float], out_len: int, f: float, antialias: bool) -> list[float]:
    n = len(line)
    if f < 1 and antialias:
        width = 4 / f

        def kernel(x: float) -> float:
            return f * _keys_cubic(f * x)

    else:
        width = 4.0
        kernel = _keys_cubic
    out = []
    for i in range(1, out_len + 1):
        u = i / f + 0.5 * (1 - 1 / f)
        taps = range(math.floor(u - width / 2), math.ceil(u + width / 2) + 1)
        w = [kernel(u - j) for j in taps]
        total = sum(w)
        out.append(sum(wk / total * line[_mirror(j, n) - 1] for wk, j in zip(w, taps, strict=True)))
    return out


def _ref_round(v: float) -> float:
    r = math.floor(v) + (1 if v - math.floor(v) >= 0.5 else 0)  # MATLAB round: half away from zero
    return float(min(max(r, 0), 255))


def reference_imresize(
    img: np.ndarray,
    scale: float | None = None,
    out_shape: tuple[int, int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Slow MATLAB imresize.

    A scalar ``scale`` is used as is on both axes with output size ceil(in * scale); an ``out_shape``
    gives per-axis f = out / in. The axis with the smaller f goes first (height on a tie); uint8
    passes are rounded.
    """
    is_uint8 = img.dtype == np.uint8
    x = img.astype(np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    if scale is not None:
        fh = fw = scale
        out_h, out_w = math.ceil(x.shape[0] * scale), math.ceil(x.shape[1] * scale)
    else:
        out_h, out_w = out_shape
        fh, fw = out_h / x.shape[0], out_w / x.shape[1]
    for dim in (0, 1) if fh <= fw else (1, 0):
        f, n_out = (fh, out_h) if dim == 0 else (fw, out_w)
        moved = np.moveaxis(x, dim, 0)
        res = np.empty((n_out,) + moved.shape[1:])
        for a in range(moved.shape[1]):
            for c in range(moved.shape[2]):
                vals = _ref_line(list(moved[:, a, c]), n_out, f, antialias)
                res[:, a, c] = [_ref_round(v) for v in vals] if is_uint8 else vals
        x = np.moveaxis(res, 0, dim)
    if is_uint8:
        x = x.astype(np.uint8)
    return x if img.ndim == 3 else x[:, :, 0]


# --------------------------------------------------------------------------------------------------
# Tier 2: the official MATLAB-made LR images, bit-exact.


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", SET5)
def test_reproduces_official_set5_lr_bit_exactly(
    shared_datasets: Path, name: str, scale: int, backend: str
) -> None:
    hr = read_image(shared_datasets / "Set5" / "HR" / f"{name}.png")
    official = read_image(shared_datasets / "Set5" / "LR_bicubic" / f"X{scale}" / f"{name}x{scale}.png")
    lr = bicubic_lr(hr, scale)
    assert lr.dtype == np.uint8
    assert lr.shape == official.shape
    assert int(np.count_nonzero(lr != official)) == 0


def test_without_intermediate_rounding_the_official_files_are_not_reproduced(shared_datasets: Path) -> None:
    """Guards the settled detail: MATLAB rounds to uint8 between the two passes (a float path does not match)."""
    hr = modcrop(read_image(shared_datasets / "Set5" / "HR" / "bird.png"), 4)
    official = read_image(shared_datasets / "Set5" / "LR_bicubic" / "X4" / "birdx4.png")
    float_path = imresize(hr.astype(np.float64), 1 / 4)
    rounded = np.clip(np.floor(float_path + 0.5), 0, 255).astype(np.uint8)
    assert int(np.count_nonzero(rounded != official)) > 100


# --------------------------------------------------------------------------------------------------
# Tier 1: the independent reference.

SCALES = [0.37, 0.5, 1 / 3, 0.25, 1.7, 2, 4, 1]
SHAPES = [(13, 17, 3), (9, 22), (20, 11, 2), (5, 6, 1)]


@pytest.mark.parametrize("scale", SCALES, ids=lambda s: f"{s:.3g}")
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_uint8_matches_reference(scale: float, shape: tuple[int, ...], backend: str) -> None:
    rng = np.random.default_rng(100 * SHAPES.index(shape) + SCALES.index(scale))
    img = rng.integers(0, 256, size=shape, dtype=np.uint8)
    fast = imresize(img, scale)
    ref = reference_imresize(img, scale)
    assert fast.dtype == np.uint8 and fast.shape == ref.shape
    np.testing.assert_array_equal(fast, ref)


@pytest.mark.parametrize("scale", SCALES, ids=lambda s: f"{s:.3g}")
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_float_matches_reference(scale: float, shape: tuple[int, ...], backend: str) -> None:
    rng = np.random.default_rng(1000 + 100 * SHAPES.index(shape) + SCALES.index(scale))
    img = rng.random(size=shape, dtype=np.float64)
    fast = imresize(img.astype(np.float32), scale)  # float32 in -> float64 out, no rounding
    ref = reference_imresize(img.astype(np.float32), scale)
    assert fast.dtype == np.float64 and fast.shape == ref.shape
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("shape", "out"), [((15, 12, 3), (7, 30)), ((8, 21), (19, 5)), ((10, 10, 3), (4, 4))]
)
def test_output_shape_matches_reference(shape: tuple[int, ...], out: tuple[int, int], backend: str) -> None:
    """output_shape uses per-axis scales, and the more-shrunk axis goes first (MATLAB's order)."""
    img = np.random.default_rng(7).integers(0, 256, size=shape, dtype=np.uint8)
    fast = imresize(img, output_shape=out)
    np.testing.assert_array_equal(fast, reference_imresize(img, out_shape=out))
    assert fast.shape[:2] == out


@pytest.mark.parametrize("scale", [0.5, 0.3])
def test_no_antialias_matches_reference(scale: float, backend: str) -> None:
    img = np.random.default_rng(3).integers(0, 256, size=(16, 19, 3), dtype=np.uint8)
    fast = imresize(img, scale, antialias=False)
    np.testing.assert_array_equal(fast, reference_imresize(img, scale, antialias=False))
    assert not np.array_equal(fast, imresize(img, scale))  # antialiasing does change the result


def test_backends_agree_bitwise_on_a_real_image(
    shared_datasets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("numba")
    hr = read_image(shared_datasets / "Set5" / "HR" / "woman.png")
    results = []
    for be in ("numba", "numpy"):
        monkeypatch.setenv("SRBENCH_IMRESIZE_BACKEND", be)
        results.append((imresize(hr, 0.37), imresize(hr[:60, :50], 2.6), imresize(hr[:40, :30] / 255.0, 1.3)))
    for a, b in zip(*results, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------------
# Properties, shapes and dtypes.


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.37, 1.7, 4])
def test_constant_image_stays_constant(scale: float, backend: str) -> None:
    img = np.full((23, 18, 3), 137, dtype=np.uint8)
    out = imresize(img, scale)
    assert np.all(out == 137)
    outf = imresize(np.full((23, 18), 0.3), scale)
    np.testing.assert_allclose(outf, 0.3, rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    ("shape", "scale", "expected"),
    [
        ((10, 7), 0.37, (4, 3)),
        ((10, 7), 1.7, (17, 12)),
        ((255, 342), 1 / 3, (85, 114)),
        ((5, 3), 4, (20, 12)),
    ],
)
def test_output_size_is_ceil(shape: tuple[int, int], scale: float, expected: tuple[int, int]) -> None:
    assert output_size(shape, scale) == expected
    assert imresize(np.zeros(shape, np.uint8), scale).shape == expected
    assert imresize(np.zeros(shape + (4,), np.uint8), scale).shape == expected + (4,)


def test_dtypes_and_layout(backend: str) -> None:
    img = np.random.default_rng(0).integers(0, 256, size=(12, 9, 3), dtype=np.uint8)
    out = imresize(img, 0.5)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    for dt in (np.float16, np.float32, np.float64):
        assert imresize(img.astype(dt) / 255, 0.5).dtype == np.float64
    gray = imresize(img[:, :, 0], 2)
    assert gray.ndim == 2 and gray.shape == (24, 18)
    np.testing.assert_array_equal(gray, imresize(img[:, :, :1], 2)[:, :, 0])


def test_float_path_is_not_clamped_or_rounded() -> None:
    step = np.zeros((8, 8))
    step[:, 4:] = 1.0
    up = imresize(step, 2)
    assert up.min() < 0 and up.max() > 1  # cubic overshoot survives in float
    assert not np.allclose(up, np.round(up))


def test_scale_one_is_identity_and_returns_a_copy(backend: str) -> None:
    img = np.random.default_rng(1).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    out = imresize(img, 1)
    np.testing.assert_array_equal(out, img)
    assert not np.shares_memory(out, img)
    out[...] = 0
    assert img.any()
    for other in (img[:, :, 0], img.astype(np.float64)):  # HW, and the float path
        same = imresize(other, 1)
        np.testing.assert_array_equal(same, other)
        assert not np.shares_memory(same, other)


def test_input_is_not_modified(backend: str) -> None:
    img = np.random.default_rng(2).integers(0, 256, size=(9, 10, 3), dtype=np.uint8)
    before = img.copy()
    imresize(img, 0.37)
    imresize(img[:, ::-1], 1.7)  # non-contiguous views work too
    np.testing.assert_array_equal(img, before)


def test_integer_upscale_then_downscale_is_close_to_identity() -> None:
    """A sanity anchor with a physical meaning: x2 up then /2 down with MATLAB's kernel nearly round-trips."""
    img = np.random.default_rng(5).integers(60, 200, size=(32, 32, 3), dtype=np.uint8)
    from scipy.ndimage import gaussian_filter

    smooth = gaussian_filter(img.astype(np.float64), sigma=(2, 2, 0))
    back = imresize(imresize(smooth, 2), 0.5)
    assert np.abs(back - smooth)[3:-3, 3:-3].max() < 0.5


def test_modcrop() -> None:
    img = np.arange(7 * 10 * 3, dtype=np.uint8).reshape(7, 10, 3)
    assert modcrop(img, 3).shape == (6, 9, 3)
    np.testing.assert_array_equal(modcrop(img, 3), img[:6, :9])  # top-left anchored
    assert modcrop(img[:, :, 0], 4).shape == (4, 8)
    assert modcrop(img, 1).shape == img.shape


def test_bicubic_lr_shape() -> None:
    hr = np.zeros((228, 344, 3), np.uint8)
    assert bicubic_lr(hr, 3).shape == (76, 114, 3)
    assert bicubic_lr(hr, 4).shape == (57, 86, 3)


# --------------------------------------------------------------------------------------------------
# Validation: ValueError naming the problem.


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((4, 4), np.int16), "dtype"),
        (np.zeros((4, 4), bool), "dtype"),
        (np.zeros((4, 4), np.complex64), "dtype"),
        (np.zeros((4, 4), np.uint16), "dtype"),
        (np.zeros(4, np.uint8), "shape"),
        (np.zeros((2, 4, 4, 3), np.uint8), "shape"),
        (np.zeros((0, 4), np.uint8), "empty"),
        (np.zeros((4, 4, 0), np.uint8), "empty"),
        (np.full((4, 4), np.nan), "NaN"),
        ([[1, 2], [3, 4]], "numpy array"),
    ],
)
def test_rejects_bad_images(image: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        imresize(image, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize("scale", [0, -1, float("nan"), float("inf"), "2", True, None])
def test_rejects_bad_scales(scale: object) -> None:
    with pytest.raises(ValueError, match="scale"):
        imresize(np.zeros((4, 4), np.uint8), scale)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(0, 3), (3,), (3, 4, 5), (2.5, 3), (-1, 2), "ab", 5])
def test_rejects_bad_output_shapes(shape: object) -> None:
    with pytest.raises(ValueError, match="output_shape"):
        imresize(np.zeros((4, 4), np.uint8), output_shape=shape)  # type: ignore[arg-type]


def test_rejects_both_scale_and_output_shape() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        imresize(np.zeros((4, 4), np.uint8), 2, output_shape=(8, 8))


@pytest.mark.parametrize("scale", [0, -2, 2.0, True])
def test_modcrop_rejects_bad_scale(scale: object) -> None:
    with pytest.raises(ValueError, match="scale"):
        modcrop(np.zeros((8, 8), np.uint8), scale)  # type: ignore[arg-type]


def test_modcrop_rejects_too_small_image() -> None:
    with pytest.raises(ValueError, match="smaller than scale"):
        modcrop(np.zeros((3, 8), np.uint8), 4)


def test_bicubic_lr_rejects_float() -> None:
    with pytest.raises(ValueError, match="uint8"):
        bicubic_lr(np.zeros((8, 8)), 2)


def test_bad_backend_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRBENCH_IMRESIZE_BACKEND", "cuda")
    with pytest.raises(ValueError, match="SRBENCH_IMRESIZE_BACKEND"):
        imresize(np.zeros((4, 4), np.uint8), 2)


def test_contributions_weights_sum_to_one_and_indices_in_range() -> None:
    for n_in, n_out, s in [(10, 4, 0.37), (7, 12, 1.7), (3, 1, 1 / 3), (5, 20, 4.0)]:
        w, idx = imresize_module.contributions(n_in, n_out, s, True)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
        assert idx.min() >= 0 and idx.max() < n_in
        assert not w.flags.writeable


def test_reference_itself_reproduces_an_official_file(shared_datasets: Path) -> None:
    """Closes the loop: the slow reference, built only from the protocol text, is MATLAB-exact too (~2 s)."""
    hr = modcrop(read_image(shared_datasets / "Set5" / "HR" / "butterfly.png"), 4)
    official = read_image(shared_datasets / "Set5" / "LR_bicubic" / "X4" / "butterflyx4.png")
    np.testing.assert_array_equal(reference_imresize(hr, 1 / 4), official)


def test_works_without_numba() -> None:
    """numba is optional: with its import blocked the numpy backend is used, with the same result."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import numpy as np\n"
        "from srbench.data.imresize import imresize, active_backend\n"
        "img = np.arange(7 * 9 * 3, dtype=np.uint8).reshape(7, 9, 3)\n"
        "print(active_backend(), imresize(img, 0.37).sum(), imresize(img, 1.7).sum())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    img = np.arange(7 * 9 * 3, dtype=np.uint8).reshape(7, 9, 3)
    assert out.stdout.split() == ["numpy", str(imresize(img, 0.37).sum()), str(imresize(img, 1.7).sum())], (
        out.stderr
    )
