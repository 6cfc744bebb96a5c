"""The metric API: ``srbench.metrics.psnr / ssim / niqe / lpips`` on the images people have at hand.

The same numbers as ``srbench run`` (the functions underneath are the ones the harness calls), on:

* NumPy arrays, HWC or CHW (HW: grayscale), uint8 or float, and batches NHWC / NCHW;
* PIL images (mode ``L`` or ``RGB``);
* torch tensors, CHW or NCHW (never HWC unless ``layout="hwc"``), on any device.

The protocol's options, explicit:

* ``scale``: the upscaling factor; the border cropped is ``crop_border = scale`` (the protocol), unless
  ``crop_border`` is given. Neither: nothing cropped.
* ``y_channel`` (PSNR/SSIM): MATLAB ``rgb2ycbcr`` Y of RGB images (default, the protocol), or every RGB
  channel (``False``). Grayscale images are used as they are. NIQE is always on Y, LPIPS always on RGB.
* ``data_range``: what a float image's white is. ``None`` (default): uint8 is 0..255 and floats are in
  [0, 1]; a float image with values above 2 or below -1 is refused with a ValueError (it looks like 0..255:
  say so with ``data_range=255``). ``1.0`` or ``255.0`` state it. uint8 is always 0..255.
* ``layout``: ``"chw"`` or ``"hwc"`` when the shape does not say (a 3x3x3 image); by default a 3-D array is
  CHW when only its first axis has 1 or 3 channels, HWC when only its last has, and ambiguous (ValueError)
  when both have; torch tensors are CHW.
* ``reduction`` for batches: ``"mean"`` (default) is the arithmetic mean of the per-image values (the
  protocol's dataset figure: a mean of per-image PSNRs, not the PSNR of a pooled MSE); ``"none"`` returns
  the list of per-image values (one value for a single image).

The harness scores the SR image after clamping and rounding it to 8 bits; these functions take the images
as given (quantise a float SR output yourself to reproduce a run's numbers exactly). Arithmetic is float64.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["lpips", "niqe", "psnr", "ssim"]

_FLOAT_SLACK = (-1.0, 2.0)  # a [0, 1] float image outside this range is not a [0, 1] image


def _is_pil(image: Any) -> bool:
    pil = sys.modules.get("PIL.Image")  # no PIL import: an image can only be a PIL image if PIL is loaded
    return pil is not None and isinstance(image, pil.Image)


def _channels_axis(shape: tuple[int, ...], layout: str | None, torch_like: bool, name: str) -> str:
    """"chw" or "hwc" for a 3-D image shape."""
    if layout is not None:
        if layout not in ("chw", "hwc"):
            raise ValueError(f"{name}: layout must be 'chw' or 'hwc', got {layout!r}")
        return layout
    if torch_like:
        return "chw"
    first, last = shape[0] in (1, 3), shape[-1] in (1, 3)
    if first and not last:
        return "chw"
    if last and not first:
        return "hwc"
    if first and last:
        raise ValueError(f"{name}: shape {shape} could be CHW or HWC; pass layout='chw' or layout='hwc'")
    raise ValueError(f"{name}: expected C = 1 or 3 channels first (CHW) or last (HWC), got shape {shape}")


def as_images(image: Any, name: str = "image", *, data_range: float | None = None,
              layout: str | None = None) -> tuple[list[np.ndarray], bool]:
    """(list of CHW arrays as the metrics take them: uint8, or float in [0, 1]; batched?)."""
    torch_like = hasattr(image, "detach") and hasattr(image, "cpu")
    if _is_pil(image):
        if image.mode not in ("L", "RGB"):
            raise ValueError(f"{name}: PIL image of mode {image.mode!r}; convert it to 'RGB' or 'L' first")
        arr = np.asarray(image)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        return [arr], False
    if torch_like:
        image = image.detach().cpu()
        if str(image.dtype) in ("torch.bfloat16", "torch.float16"):
            image = image.float()
        image = image.numpy()
    arr = np.asarray(image)
    if arr.dtype == np.bool_ or not (arr.dtype == np.uint8 or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name}: expected uint8 or float pixels, got dtype {arr.dtype}")
    if arr.ndim == 2:
        batch, arr = False, arr[None, None]
    elif arr.ndim == 3:
        batch = False
        arr = (arr if _channels_axis(arr.shape, layout, torch_like, name) == "chw" else arr.transpose(2, 0, 1))[None]
    elif arr.ndim == 4:
        batch = True
        if _channels_axis(arr.shape[1:], layout, torch_like, name) == "hwc":
            arr = arr.transpose(0, 3, 1, 2)
    else:
        raise ValueError(f"{name}: expected an image (HW, HWC, CHW) or a batch (NCHW, NHWC), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = _unit_range(arr, name, data_range)
    elif data_range not in (None, 255, 255.0):
        raise ValueError(f"{name}: uint8 images are 0..255; data_range={data_range} contradicts that")
    return list(arr), batch


def _unit_range(arr: np.ndarray, name: str, data_range: float | None) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    if data_range is None:
        lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
        if lo < _FLOAT_SLACK[0] or hi > _FLOAT_SLACK[1]:
            raise ValueError(f"{name}: float values in [{lo:g}, {hi:g}] are not in [0, 1]; pass data_range=255 "
                             "for images on the 0..255 scale (or give uint8)")
        return arr
    if not (isinstance(data_range, (int, float)) and data_range > 0):
        raise ValueError(f"{name}: data_range must be a positive number (1.0 or 255.0), got {data_range!r}")
    return arr if data_range == 1 else arr.astype(np.float64) / float(data_range)


def _crop(scale: int | None, crop_border: int | None) -> int:
    if crop_border is not None:
        return int(crop_border)
    if scale is None:
        return 0
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def _reduce(values: list[float], batched: bool, reduction: str) -> float | list[float]:
    if reduction == "none":
        return values
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    try:
        return math.fsum(values) / len(values)
    except ValueError:  # inf and -inf
        return math.nan


def _paired(fn: Callable[[np.ndarray, np.ndarray], float], sr: Any, hr: Any, data_range: float | None,
            layout: str | None, reduction: str) -> float | list[float]:
    a, batched_a = as_images(sr, "sr", data_range=data_range, layout=layout)
    b, batched_b = as_images(hr, "hr", data_range=data_range, layout=layout)
    if len(a) != len(b):
        raise ValueError(f"sr and hr batches differ: {len(a)} vs {len(b)} images")
    return _reduce([fn(x, y) for x, y in zip(a, b, strict=True)], batched_a or batched_b, reduction)


def psnr(sr: Any, hr: Any, scale: int | None = None, *, crop_border: int | None = None, y_channel: bool = True,
         data_range: float | None = None, layout: str | None = None, reduction: str = "mean") -> Any:
    """PSNR in dB as the SR protocol computes it: ``10 log10(255^2 / MSE)`` on MATLAB Y (``y_channel``),
    ``crop_border = scale`` pixels cropped; ``inf`` for identical images. See the module docstring for the
    inputs, ``data_range``, ``layout`` and ``reduction``."""
    from srbench.metrics import fidelity  # deferred: scipy, at first use

    c = _crop(scale, crop_border)
    return _paired(lambda a, b: fidelity.psnr(a, b, crop_border=c, y_channel=y_channel), sr, hr, data_range,
                   layout, reduction)


def ssim(sr: Any, hr: Any, scale: int | None = None, *, crop_border: int | None = None, y_channel: bool = True,
         data_range: float | None = None, layout: str | None = None, reduction: str = "mean") -> Any:
    """SSIM (Wang et al. ``ssim_index.m``: Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, L 255) on MATLAB Y,
    ``crop_border = scale``; on RGB (``y_channel=False``) the mean over the channels. Inputs as :func:`psnr`."""
    from srbench.metrics import fidelity  # deferred: scipy, at first use

    c = _crop(scale, crop_border)
    return _paired(lambda a, b: fidelity.ssim(a, b, crop_border=c, y_channel=y_channel), sr, hr, data_range,
                   layout, reduction)


def niqe(image: Any, scale: int | None = None, *, crop_border: int | None = None, data_range: float | None = None,
         layout: str | None = None, reduction: str = "mean") -> Any:
    """NIQE (lower is better; no reference) as MATLAB ``niqe`` with its pristine model, on the rounded MATLAB
    Y of the image, ``crop_border = scale``. Inputs as :func:`psnr` (one image or a batch)."""
    from srbench.metrics.niqe import niqe as niqe_value  # deferred: scipy, numba

    c = _crop(scale, crop_border)
    images, batched = as_images(image, "image", data_range=data_range, layout=layout)
    return _reduce([niqe_value(x, crop_border=c) for x in images], batched, reduction)


@lru_cache(maxsize=4)
def _lpips_metric(net: str, weights: str | None, device: str) -> Any:
    from srbench.metrics.perceptual import LPIPSMetric  # deferred: torch and lpips

    return LPIPSMetric(net, backbone=weights, device=device)


def lpips(sr: Any, hr: Any, scale: int | None = None, *, crop_border: int | None = None, net: str = "alex",
          weights: str | os.PathLike[str] | None = None, device: str = "cpu", data_range: float | None = None,
          layout: str | None = None, reduction: str = "mean") -> Any:
    """LPIPS v0.1 (lower is better) on RGB, ``crop_border = scale``; the network (``net`` "alex" or "vgg") is
    loaded once per (net, weights, device). ``weights``: the backbone's ImageNet weights file (else the
    torch hub cache or $SRBENCH_LPIPS_BACKBONE); raises ``srbench.metrics.perceptual.LPIPSUnavailable``
    saying how to get them. Argument order matters (LPIPS is not symmetric). Inputs as :func:`psnr`."""
    metric = _lpips_metric(net, None if weights is None else str(weights), device)
    c = _crop(scale, crop_border)
    return _paired(lambda a, b: metric(a, b, crop_border=c), sr, hr, data_range, layout, reduction)
