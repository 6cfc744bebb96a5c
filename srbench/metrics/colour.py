"""Colour conversion used by the protocol."""

from __future__ import annotations

import numpy as np

# MATLAB rgb2ycbcr, Y row, for R, G, B in [0, 1] -> Y in [16, 235] (on the 0..255 scale).
Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)


def rgb_to_y(rgb255: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma of a float64 (3, H, W) image on the 0..255 scale; Y not rounded.

    ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1]. Full-range luma
    (0.299/0.587/0.114) would report PSNR 1.322 dB lower for the same error: a classic mismatch.
    """
    if rgb255.ndim != 3 or rgb255.shape[0] != 3:
        raise ValueError(f"rgb_to_y expects (3, H, W), got shape {rgb255.shape}")
    return 16.0 + np.tensordot(Y_WEIGHTS / 255.0, rgb255, axes=(0, 0))
