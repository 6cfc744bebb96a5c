"""Scorers: the uniform call behind each row of the metric table.

``fn(sr, hr, *, scale, colour, wanted, state) -> dict[str, float]`` with ``sr`` uint8 (C, H, W) (the
quantised SR image), ``hr`` uint8 (C, H, W), ``scale`` the crop border, ``colour`` "y" or "rgb",
``wanted`` the metrics of the table that name this scorer and were requested, ``state`` the loaded object of
a stateful metric (None otherwise). A scorer returns values for ``wanted`` only.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fidelity(sr: np.ndarray, hr: np.ndarray, *, scale: int, colour: str, wanted: tuple[str, ...],
             state: Any = None) -> dict[str, float]:
    """PSNR and/or SSIM; both in one pass over the planes when both are wanted."""
    from srbench.metrics.fidelity import psnr, psnr_ssim, ssim

    y = colour == "y"
    if "psnr" in wanted and "ssim" in wanted:
        p, s = psnr_ssim(sr, hr, crop_border=scale, y_channel=y)
        return {"psnr": p, "ssim": s}
    if "psnr" in wanted:
        return {"psnr": psnr(sr, hr, crop_border=scale, y_channel=y)}
    if "ssim" in wanted:
        return {"ssim": ssim(sr, hr, crop_border=scale, y_channel=y)}
    return {}


def lpips(sr: np.ndarray, hr: np.ndarray, *, scale: int, colour: str, wanted: tuple[str, ...],
          state: Any = None) -> dict[str, float]:
    """LPIPS with the loaded network ``state`` (RGB regardless of ``colour``: the network sees colour)."""
    if state is None:
        return {}
    return {"lpips": state(sr, hr, crop_border=scale)}


def niqe(sr: np.ndarray, hr: np.ndarray | None, *, scale: int, colour: str, wanted: tuple[str, ...],
         state: Any = None) -> dict[str, float]:
    """NIQE of the SR image alone (reference-free), always on MATLAB Y whatever ``colour`` says: NIQE is
    defined on one luminance plane (grayscale images: their raw values)."""
    from srbench.metrics.niqe import niqe as niqe_value

    return {"niqe": niqe_value(sr, crop_border=scale)}
