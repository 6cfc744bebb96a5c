"""The one 8-bit quantiser of srbench: MATLAB's double -> uint8 conversion (round half away from zero,
saturate), used wherever a float image becomes 8 bits (SR output before the metrics, in ``srbench run``
and in training validation alike; the bicubic baseline's input; imresize between its passes).

Why not ``torch.round`` / ``np.round``: they round half to even, so a value of exactly k + 0.5 goes down for
even k where MATLAB's ``uint8()`` (and the published numbers made with it) goes up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CHUNK = 1 << 18  # values per pass: float64 scratch of 2 MiB, where whole-image temporaries of a 16-Mpixel
# SR output (4000 x 4000, x4) took 1.5 GiB (issue 23 item 13); the values are the same, element by element


def _round_into(a: np.ndarray, out: np.ndarray) -> None:
    """MATLAB uint8(a) of a float64 scratch chunk ``a`` (overwritten) into ``out`` (uint8, same size)."""
    whole = np.floor(a)
    a -= whole  # the fraction, exactly: a - floor(a) is exact in binary floating point
    whole += a >= 0.5
    np.clip(whole, 0, 255, out=whole)
    np.copyto(out, whole, casting="unsafe")  # integral values in 0..255: exact


def _chunked(x: np.ndarray, prepare: Any = None) -> np.ndarray:
    """uint8 of ``x`` (any shape and float dtype) chunk by chunk: each chunk copied to float64, passed to
    ``prepare`` (in place), rounded by :func:`_round_into`."""
    flat = np.ravel(x)  # a view when ``x`` is contiguous
    out = np.empty(x.shape, dtype=np.uint8)
    out_flat = out.reshape(-1)
    for i in range(0, flat.size, CHUNK):
        part = flat[i:i + CHUNK].astype(np.float64)  # always a copy: the scratch of this chunk
        if prepare is not None:
            prepare(part)
        _round_into(part, out_flat[i:i + CHUNK])
    return out


def round_uint8(a: np.ndarray) -> np.ndarray:
    """Values on the 0..255 scale -> uint8: round half away from zero, saturate (NaN is not expected).

    ``floor(a) + (a - floor(a) >= 0.5)`` is exact, unlike ``floor(a + 0.5)``, which rounds
    0.49999999999999994 up; negative values saturate to 0 either way. Works in chunks of :data:`CHUNK`.
    """
    return _chunked(np.asarray(a))


def _unit_to_255(part: np.ndarray) -> None:
    np.clip(part, 0.0, 1.0, out=part)
    part *= 255.0


def unit_to_uint8(x: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (any shape) -> uint8 on 0..255: clamp, scale in float64, :func:`round_uint8`
    (chunk by chunk: no whole-image float64 temporary)."""
    return _chunked(np.asarray(x), _unit_to_255)


def quantise_sr(sr: Any, channels: int) -> np.ndarray:
    """An SR output, (1, 3, H, W) or (3, H, W) floats in [0, 1] (a torch tensor or a numpy array) ->
    uint8 (C, H, W) with C = ``channels``.

    For a grayscale ground truth (``channels == 1``) the three channels are averaged (float64) before
    rounding. Works in chunks: the memory beyond the input and the uint8 output is a few MiB.
    """
    if hasattr(sr, "detach"):  # a torch tensor (duck-typed: this module does not import torch)
        sr = sr.detach().float().cpu().numpy()
    x = np.asarray(sr)
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"quantise_sr: expected one image (1, 3, H, W), got shape {x.shape}")
        x = x[0]
    if x.ndim != 3:
        raise ValueError(f"quantise_sr: expected (1, 3, H, W) or (3, H, W), got shape {x.shape}")
    if channels != 1:
        return unit_to_uint8(x)
    c, h, w = x.shape
    out = np.empty((1, h, w), dtype=np.uint8)
    rows = max(1, CHUNK // max(1, c * w))
    for r in range(0, h, rows):  # the mean of the channels, as the whole-image x.mean(axis=0) sums them
        out[:, r:r + rows] = unit_to_uint8(x[:, r:r + rows].astype(np.float64).mean(axis=0, keepdims=True))
    return out
