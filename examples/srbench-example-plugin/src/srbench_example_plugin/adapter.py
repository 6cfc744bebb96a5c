"""``example-bilinear``: bilinear upscaling as an srbench adapter (the SRModel protocol).

srbench calls ``build(scale, *, device="cpu", weights=None, tile=None, **options)`` and uses the returned
object's ``name``, ``scale``, ``device``, ``upscale(lr)`` and ``info()``. ``upscale`` takes float32 RGB NCHW
in [0, 1] on ``device`` and returns float32 RGB NCHW, ``scale`` times larger. Problems with the
request are ``ModelError``s naming the model; bad input is a ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from srbench.interfaces import ModelError, ModelInfo
from srbench.models.fast import tiled_forward

NAME = "example-bilinear"
SCALES = (2, 3, 4)


class BilinearUpscaler:
    """Bilinear interpolation (half-pixel centres, no antialiasing), optionally tile by tile."""

    name = NAME

    def __init__(self, scale: int, device: str = "cpu", tile: int | None = None) -> None:
        self.scale = scale
        self.device = device
        self.tile = tile

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        if not isinstance(lr, torch.Tensor) or lr.ndim != 4 or lr.shape[1] != 3:
            got = tuple(lr.shape) if isinstance(lr, torch.Tensor) else type(lr).__name__
            raise ValueError(f"{self.name}: expected a float32 RGB NCHW tensor (N, 3, h, w), got {got}")
        if lr.dtype != torch.float32:
            raise ValueError(f"{self.name}: expected float32 input, got {lr.dtype}")
        x = lr.to(self.device)
        if self.tile:  # 2 LR pixels of context: bilinear only looks one pixel away
            return tiled_forward(self._forward, x, self.scale, self.tile, overlap=2)
        return self._forward(x)

    def info(self) -> ModelInfo:
        return ModelInfo(name=self.name, description=f"bilinear x{self.scale} (torch, example plugin)", params=0,
                         extra={"architecture": "bilinear", "tile": self.tile})


def build(scale: int, *, device: str = "cpu", weights: str | None = None, tile: int | None = None,
          tile_overlap: int | None = None, **options: Any) -> BilinearUpscaler:
    """The ``example-bilinear`` adapter for ``scale`` in 2, 3, 4."""
    if options:
        raise ModelError(f"{NAME}: unknown options {sorted(options)}")
    if weights is not None:
        raise ModelError(f"{NAME}: takes no weights")
    if scale not in SCALES:
        raise ModelError(f"{NAME}: scale {scale} is not supported (scales: {', '.join(map(str, SCALES))})")
    if tile is not None and tile <= 0:
        raise ModelError(f"{NAME}: tile must be a positive number of LR pixels, got {tile}")
    return BilinearUpscaler(scale, device=device, tile=tile)
