"""Scorers: the uniform call behind each row of the metric table.

``fn(sr, hr, *, scale, colour, wanted, state) -> dict[str, float]`` with ``sr`` uint8 (C, H, W) (the
quantised SR image), ``hr`` uint8 (C, H, W), ``scale`` the crop border, ``colour`` "y" or "rgb",
``wanted`` the metrics of the table that name this scorer and were requested, ``state`` the loaded object of
a stateful metric (None otherwise). A scorer returns values for ``wanted`` only.

A metric that has no value for an image (NIQE of a flat or too small image) returns nothing for it and
says why in a :class:`MetricUndefinedWarning`; it never raises, so the image keeps its other metrics' rows.
No value rather than NaN: a NaN row would make the dataset's mean NaN (the mean over the images that have
a value is the figure a report can use; summary.csv's n_images says how many that is).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


class MetricUndefinedWarning(UserWarning):
    """A metric has no value for one image (it gets no row); the message names the metric and why."""


def fidelity(sr: np.ndarray, hr: np.ndarray, *, scale: int, colour: str, wanted: tuple[str, ...],
             state: Any = None) -> dict[str, float]:
    """PSNR and/or SSIM; both in one pass over the planes when both are wanted."""
    from srbench.metrics.fidelity import psnr, psnr_ssim, ssim  # deferred: it imports scipy

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
    from srbench.metrics.niqe import NIQEUndefined  # deferred: it imports scipy
    from srbench.metrics.niqe import niqe as niqe_value  # deferred: it imports scipy

    try:
        return {"niqe": niqe_value(sr, crop_border=scale)}
    except NIQEUndefined as exc:
        warnings.warn(f"niqe has no value for this image ({sr.shape[2]}x{sr.shape[1]}): {exc}",
                      MetricUndefinedWarning, stacklevel=2)
        return {}
