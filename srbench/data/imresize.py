"""MATLAB-compatible ``imresize`` (bicubic), bit-exact on uint8: the protocol's LR generator.

The benchmark LR images of the field (Set5/Set14/B100/Urban100 ``LR_bicubic``, DIV2K) were made with
MATLAB ``imresize(hr, 1/s, 'bicubic')`` on uint8. Every other resizer (PIL, OpenCV, torch, TF) differs
from it, by up to several dB of PSNR (docs/protocol.md, "Steps"), so srbench carries its own port.

What MATLAB does, and so what this module does (``imresize.m`` / ``contributions`` / ``imresizemex``):

* kernel: Keys cubic with a = -0.5, support [-2, 2];
* when shrinking (scale < 1) with antialiasing (MATLAB's default) the kernel is stretched by ``1/scale``:
  ``h(x) = scale * cubic(scale * x)``, width ``4 / scale``;
* output pixel ``i`` (1-based) samples input coordinate ``u = i / scale + 0.5 * (1 - 1 / scale)``;
  it uses the ``ceil(width) + 2`` input pixels from ``floor(u - width / 2)`` on, boundary by symmetric
  (mirror, edge pixel repeated) reflection; each output pixel's weights are normalised to sum 1;
* output size ``ceil(in * scale)``;
* one dimension at a time, the dimension with the smaller scale first (height first on a tie);
* uint8 input: double arithmetic, and the result of *each* pass is rounded half away from zero and
  clamped to 0..255 (``imresizemex`` returns the input's class, so the intermediate image of a
  two-pass resize is uint8). Settled empirically: rounding between the passes reproduces all 15
  official Set5 ``LR_bicubic`` files bit-exactly; keeping the intermediate in double does not.

The sums are accumulated in float64 in tap order, like the mex file, so that values landing near
``k + 0.5`` round the same way as in MATLAB. Weights and indices are cached per axis.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from srbench.quantise import round_uint8 as _round_uint8

__all__ = ["imresize", "modcrop", "bicubic_lr", "output_size", "contributions", "active_backend"]


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic, a = -0.5, as MATLAB's ``cubic`` writes it (1 < |x| <= 2 is the outer lobe)."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    return (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1) + (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * (
        (1 < absx) & (absx <= 2)
    )


@lru_cache(maxsize=256)
def contributions(
    in_length: int, out_length: int, scale: float, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out_length, P) float64 and 0-based input indices (out_length, P) intp of one axis.

    A port of MATLAB's ``contributions``: taps whose weight is zero for every output pixel are dropped
    (MATLAB does the same; it changes no sum). The arrays are read-only because they are cached.
    """
    kernel_width = 4.0
    if scale < 1 and antialias:
        kernel_width = kernel_width / scale

        def h(x: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * x)

    else:
        h = _cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(p, dtype=np.float64)[None, :]
    weights = h(u[:, None] - indices)
    # Row sums in tap order (MATLAB's sum over a short row is sequential).
    total = weights[:, 0].copy()
    for k in range(1, p):
        total += weights[:, k]
    weights = weights / total[:, None]
    # Symmetric boundary: aux = [1:in, in:-1:1] (1-based), indices wrap around it.
    j = np.mod(indices.astype(np.int64) - 1, 2 * in_length)
    j = np.where(j < in_length, j, 2 * in_length - 1 - j)
    keep = np.any(weights != 0, axis=0)
    weights = np.ascontiguousarray(weights[:, keep])
    j = np.ascontiguousarray(j[:, keep].astype(np.intp))
    weights.setflags(write=False)
    j.setflags(write=False)
    return weights, j


def output_size(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """MATLAB's output size for a scalar scale: ``ceil(in * scale)`` per dimension."""
    return (math.ceil(shape[0] * scale), math.ceil(shape[1] * scale))


def _pass_numpy(
    x: np.ndarray, dim: int, weights: np.ndarray, indices: np.ndarray, quantize: bool
) -> np.ndarray:
    """One resize pass along ``dim`` (0 = height, 1 = width) of HWC ``x``, in plain numpy.

    The reference backend: float64, taps accumulated in order (``w0*x0 + w1*x1 + ...``, no FMA).
    """
    moved = np.moveaxis(x, dim, 0)
    acc = weights[:, 0, None, None] * moved[indices[:, 0]].astype(np.float64)
    for k in range(1, weights.shape[1]):
        acc += weights[:, k, None, None] * moved[indices[:, k]]
    out = np.moveaxis(acc, 0, dim)
    return _round_uint8(out) if quantize else out


@lru_cache(maxsize=1)
def _numba_kernels() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """The compiled (height pass, transpose) kernels, or None when numba is not installed.

    Defined lazily so that importing this module does not import numba (0.3 s). Same arithmetic as
    ``_pass_numpy``: float64, taps in order, separate multiply and add (numba does not contract to
    FMA without fastmath), rounding half away from zero. Compiled once per machine (``cache=True``).
    """
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=True, nogil=True)
    def rows(src, weights, indices, out, quantize):  # type: ignore[no-untyped-def]
        # src (n_in, m), out (n_out, m): every output row is a weighted sum of whole input rows,
        # so the inner loop runs over contiguous memory and vectorises.
        n_out, p = weights.shape
        m = src.shape[1]
        acc = np.empty(m, np.float64)
        for i in range(n_out):
            w = weights[i, 0]
            r = indices[i, 0]
            for j in range(m):
                acc[j] = w * src[r, j]
            for k in range(1, p):
                w = weights[i, k]
                r = indices[i, k]
                for j in range(m):
                    acc[j] += w * src[r, j]
            if quantize:  # as _round_uint8 (inlined: a nested jitted helper defeats numba's cache)
                for j in range(m):
                    f = math.floor(acc[j])
                    if acc[j] - f >= 0.5:
                        f += 1.0
                    out[i, j] = min(max(f, 0.0), 255.0)
            else:
                for j in range(m):
                    out[i, j] = acc[j]

    @njit(cache=True, nogil=True)
    def transpose(src, dst):  # type: ignore[no-untyped-def]
        # (h, w, c) -> (w, h, c) in cache-sized blocks: the width pass runs as a height pass on the
        # transposed image, which vectorises (2-3x faster than gathering along the width).
        h, w, c = src.shape
        block = 32
        for y0 in range(0, h, block):
            for x0 in range(0, w, block):
                for x in range(x0, min(x0 + block, w)):
                    for y in range(y0, min(y0 + block, h)):
                        for ch in range(c):
                            dst[x, y, ch] = src[y, x, ch]

    return rows, transpose


def _pass_numba(
    x: np.ndarray, dim: int, weights: np.ndarray, indices: np.ndarray, quantize: bool, kernels: tuple
) -> np.ndarray:
    """One resize pass along ``dim`` of HWC ``x`` with the compiled kernels (same result as numpy)."""
    rows, transpose = kernels
    out_dtype = np.uint8 if quantize else np.float64
    n_out = weights.shape[0]
    if dim == 1:
        xt = np.empty((x.shape[1], x.shape[0], x.shape[2]), dtype=x.dtype)
        transpose(x, xt)
        x = xt
    n_in, m, c = x.shape
    src = np.ascontiguousarray(x).reshape(n_in, m * c)
    out = np.empty((n_out, m * c), dtype=out_dtype)
    rows(src, weights, indices, out, quantize)
    out = out.reshape(n_out, m, c)
    if dim == 1:
        back = np.empty((m, n_out, c), dtype=out_dtype)
        transpose(out, back)
        out = back
    return out


def _is_identity(weights: np.ndarray, indices: np.ndarray, in_length: int) -> bool:
    """MATLAB's scale-1 case: one tap of weight 1 at the same index (the pass changes nothing)."""
    return (
        weights.shape == (in_length, 1)
        and bool(np.all(weights == 1.0))
        and bool(np.array_equal(indices[:, 0], np.arange(in_length)))
    )


def active_backend() -> str:
    """The imresize backend in use: "numba" when installed (fast), else "numpy" (same results).

    The environment variable SRBENCH_IMRESIZE_BACKEND=numpy|numba forces one.
    """
    forced = os.environ.get("SRBENCH_IMRESIZE_BACKEND", "").strip().lower()
    if forced not in ("", "numba", "numpy"):
        raise ValueError(f"SRBENCH_IMRESIZE_BACKEND must be 'numba' or 'numpy', got {forced!r}")
    if forced == "numpy":
        return "numpy"
    if _numba_kernels() is None:
        if forced == "numba":
            raise ValueError("SRBENCH_IMRESIZE_BACKEND=numba but numba is not installed (pip install numba)")
        return "numpy"
    return "numba"


def imresize(
    image: np.ndarray,
    scale: float | None = None,
    *,
    output_shape: tuple[int, int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Resize an HW or HWC image (any C) exactly as MATLAB ``imresize(image, scale, 'bicubic')``.

    Give either ``scale`` (> 0, same for both axes; output size ``ceil(in * scale)``) or
    ``output_shape = (out_h, out_w)`` (per-axis scale ``out / in``, as MATLAB does). ``antialias``
    stretches the kernel when shrinking (MATLAB's default ``'Antialiasing', true``).

    uint8 in -> uint8 out, with MATLAB's semantics: float64 arithmetic, each pass rounded half away
    from zero and clamped to 0..255. Floating-point in -> float64 out, nothing rounded or clamped
    (values stay in the input's units; cubic overshoot can leave [0, 1] slightly).
    Raises ValueError for another dtype, a shape that is not HW/HWC or has a zero side, a bad scale
    or output_shape, or non-finite float pixels.
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"imresize: expected a numpy array, got {type(image).__name__}")
    if image.dtype == np.uint8:
        quantize = True
    elif image.dtype in (np.float16, np.float32, np.float64):
        quantize = False
    else:
        raise ValueError(f"imresize: expected uint8 or float16/32/64 pixels, got dtype {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"imresize: expected an HW or HWC image, got shape {image.shape}")
    if min(image.shape) == 0:
        raise ValueError(f"imresize: empty image of shape {image.shape}")
    if not quantize and not np.all(np.isfinite(image)):
        raise ValueError("imresize: the image contains NaN or infinite values")
    in_h, in_w = image.shape[:2]

    if (scale is None) == (output_shape is None):
        raise ValueError("imresize: give exactly one of scale and output_shape")
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
            raise ValueError(f"imresize: scale must be a positive number, got {scale!r}")
        scale = float(scale)
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"imresize: scale must be a finite number > 0, got {scale!r}")
        out_h, out_w = output_size((in_h, in_w), scale)
        scales = (scale, scale)
    else:
        out_h, out_w = _check_output_shape(output_shape)
        scales = (out_h / in_h, out_w / in_w)

    x = image if image.ndim == 3 else image[:, :, None]
    if image.dtype == np.float16:  # numba has no float16 arithmetic; float32 holds it exactly
        x = x.astype(np.float32)
    kernels = _numba_kernels() if active_backend() == "numba" else None
    # MATLAB resizes the dimension with the smaller scale first (stable sort: height on a tie).
    order = (0, 1) if scales[0] <= scales[1] else (1, 0)
    lengths = ((in_h, out_h), (in_w, out_w))
    for dim in order:
        n_in, n_out = lengths[dim]
        weights, indices = contributions(n_in, n_out, scales[dim], bool(antialias))
        if _is_identity(weights, indices, n_in):
            continue
        if kernels is not None:
            x = _pass_numba(x, dim, weights, indices, quantize, kernels)
        else:
            x = _pass_numpy(x, dim, weights, indices, quantize)
    out = np.ascontiguousarray(x, dtype=np.uint8 if quantize else np.float64)
    if np.may_share_memory(out, image):
        out = out.copy()  # both scales were identities: never hand back the caller's buffer
    return out if image.ndim == 3 else out[:, :, 0]


def _check_output_shape(output_shape: object) -> tuple[int, int]:
    try:
        vals = tuple(output_shape)  # type: ignore[call-overload]
        ok = len(vals) == 2 and all(
            not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v > 0 for v in vals
        )
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"imresize: output_shape must be two positive integers (h, w), got {output_shape!r}")
    return int(vals[0]), int(vals[1])


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop HW/HWC ``image`` to ``H - H mod scale`` x ``W - W mod scale``, anchored top-left.

    Returns a view. Raises ValueError when ``scale`` is not a positive integer or the image is
    smaller than ``scale`` in a dimension.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"modcrop: scale must be a positive integer, got {scale!r}")
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError(f"modcrop: expected an HW or HWC array, got {getattr(image, 'shape', type(image))}")
    h, w = image.shape[:2]
    if h < scale or w < scale:
        raise ValueError(f"modcrop: image of size {h}x{w} is smaller than scale {scale}")
    return image[: h - h % scale, : w - w % scale]


def bicubic_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """The protocol's LR image: ``imresize(modcrop(hr, scale), 1/scale)`` on uint8.

    ``hr`` must be uint8 HW/HWC; the result has shape (H // scale, W // scale[, C]).
    """
    if not isinstance(hr, np.ndarray) or hr.dtype != np.uint8:
        raise ValueError(f"bicubic_lr: expected a uint8 HR image, got {getattr(hr, 'dtype', type(hr))}")
    return imresize(modcrop(hr, scale), 1 / scale)
