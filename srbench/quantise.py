"""The one 8-bit quantiser of srbench: MATLAB's double -> uint8 conversion (round half away from zero,
saturate), used wherever a float image becomes 8 bits (SR output before the metrics, in ``srbench run``
and in training validation alike; the bicubic baseline's input; imresize between its passes).

Why not ``torch.round`` / ``np.round``: they round half to even, so a value of exactly k + 0.5 goes down for
even k where MATLAB's ``uint8()`` (and the published numbers made with it) goes up.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def round_uint8(a: np.ndarray) -> np.ndarray:
    """Values on the 0..255 scale -> uint8: round half away from zero, saturate (NaN is not expected).

    ``floor(a) + (a - floor(a) >= 0.5)`` is exact, unlike ``floor(a + 0.5)``, which rounds
    0.49999999999999994 up; negative values saturate to 0 either way.
    """
    out = np.floor(a)
    out += (a - out) >= 0.5
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def unit_to_uint8(x: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (any shape) -> uint8 on 0..255: clamp, scale in float64, :func:`round_uint8`."""
    return round_uint8(np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0) * 255.0)


def quantise_sr(sr: Any, channels: int) -> np.ndarray:
    """An SR output, (1, 3, H, W) or (3, H, W) floats in [0, 1] (a torch tensor or a numpy array) ->
    uint8 (C, H, W) with C = ``channels``.

    For a grayscale ground truth (``channels == 1``) the three channels are averaged before rounding.
    """
    if hasattr(sr, "detach"):  # a torch tensor (duck-typed: this module does not import torch)
        sr = sr.detach().float().cpu().numpy()
    x = np.asarray(sr, dtype=np.float64)
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"quantise_sr: expected one image (1, 3, H, W), got shape {x.shape}")
        x = x[0]
    if x.ndim != 3:
        raise ValueError(f"quantise_sr: expected (1, 3, H, W) or (3, H, W), got shape {x.shape}")
    if channels == 1:
        x = x.mean(axis=0, keepdims=True)
    return unit_to_uint8(x)
