"""The protocol's "bicubic" baseline: MATLAB ``imresize(lr, s, 'bicubic')`` on uint8, rounded to uint8.

Published bicubic rows (EDSR, ESRGAN, SRGAN tables) upscale the uint8 LR image with MATLAB and get a
uint8 image back, so this adapter quantises its [0, 1] input to 8 bits (exact for LR that came from
uint8, as the harness's does), runs :func:`srbench.data.imresize.imresize` and returns the uint8 result
as float32 / 255. No torch interpolation anywhere: ``torch.nn.functional.interpolate`` is not MATLAB's
kernel (no antialiasing, other boundary) and moves PSNR by hundredths of a dB or more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from srbench.data.imresize import active_backend, imresize
from srbench.interfaces import ModelError, ModelInfo
from srbench.quantise import unit_to_uint8

if TYPE_CHECKING:
    import torch

NAME = "bicubic"


class BicubicModel:
    """SRModel: MATLAB-compatible bicubic upscaling by an integer ``scale`` (uint8 semantics).

    Runs on the CPU whatever ``device`` says (it is a resampling, not a network); the output goes back
    to the input tensor's device.
    """

    name: str = NAME

    def __init__(self, scale: int, device: str = "cpu") -> None:
        self.scale = scale
        self.device = device

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """float32 RGB NCHW in [0, 1], shape (N, 3, h, w) -> float32 (N, 3, h*s, w*s) in [0, 1].

        Each image is clamped to [0, 1], rounded to uint8 (half up), resized with MATLAB's bicubic
        and divided by 255: the values are exact multiples of 1/255. Raises ValueError naming the
        model for a non-tensor, a wrong shape or dtype, or NaN/infinite values.
        """
        import torch  # deferred: importing the bicubic baseline does not import torch

        if not isinstance(lr, torch.Tensor):
            raise ValueError(f"{self.name}: expected a torch.Tensor, got {type(lr).__name__}")
        if lr.ndim != 4 or lr.shape[1] != 3 or lr.shape[0] == 0 or lr.shape[2] == 0 or lr.shape[3] == 0:
            raise ValueError(
                f"{self.name}: expected a non-empty RGB NCHW tensor (N, 3, h, w), got {tuple(lr.shape)}"
            )
        if lr.dtype != torch.float32:
            raise ValueError(f"{self.name}: expected float32 input in [0, 1], got {lr.dtype}")
        x = lr.detach().to("cpu", torch.float64).numpy()
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{self.name}: the input contains NaN or infinite values")
        u8 = unit_to_uint8(x)  # (N, 3, h, w)
        out = np.stack([imresize(np.ascontiguousarray(im.transpose(1, 2, 0)), self.scale) for im in u8])
        sr = torch.from_numpy(out.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0))
        return sr.contiguous().to(lr.device)

    def info(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            description=f"MATLAB imresize bicubic x{self.scale} (Keys a=-0.5, uint8 in and out)",
            params=0,
            extra={
                "method": "matlab-imresize-bicubic",
                "kernel": "keys-cubic-a=-0.5",
                "boundary": "symmetric",
                "quantisation": "uint8 input and output, round half away from zero",
                "imresize_backend": active_backend(),
            },
        )

    def __repr__(self) -> str:
        return f"BicubicModel(scale={self.scale}, device={self.device!r})"


def build(
    scale: int,
    *,
    device: str = "cpu",
    weights: str | None = None,
    tile: int | None = None,
    tile_overlap: int | None = None,
    **options: Any,
) -> BicubicModel:
    """The ``bicubic`` adapter for an integer ``scale`` >= 1.

    ``tile`` / ``tile_overlap`` are accepted (the harness passes them to every model) and ignored:
    bicubic needs no tiling, and tiling would change the pixels next to tile borders. ``weights``
    must be None. Any other option is an error (ModelError naming the model and the option).
    """
    if options:
        raise ModelError(f"{NAME}: unknown options {sorted(options)} (bicubic takes none besides device)")
    if weights is not None:
        raise ModelError(f"{NAME}: takes no weights, got weights={weights!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ModelError(f"{NAME}: scale must be an integer >= 1, got {scale!r}")
    import torch  # deferred: importing the bicubic baseline does not import torch

    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"{NAME}: invalid device {device!r} ({exc})") from exc
    return BicubicModel(int(scale), device=str(device))
