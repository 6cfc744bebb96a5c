"""FSRCNN (Dong, Loy, Tang, ECCV 2016): a Y-channel, post-upsampling network ending in a deconvolution.

Module names follow yjn870/FSRCNN-pytorch (``first_part``, ``mid_part``, ``last_part``) with PReLU per
channel; d=56, s=12, m=4 in the paper (all read from the weights). The deconvolution's stride is the scale
and is **not stored** in the weights: x2, x3 and x4 files have the same shapes. :meth:`FSRCNN.set_scale`
sets it; ``file:`` takes it from the file name (``fsrcnn_x3.pth``) or from ``--scale``.
Input: Y in [0, 1] (MATLAB ``rgb2ycbcr`` units), output: Y, ``scale`` times larger.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from srbench.models.archs._common import architecture, descriptor, has_all, numbered


class FSRCNN(nn.Module):
    """feature extraction 5x5 (d), shrink 1x1 (s), m mapping 3x3 (s), expand 1x1 (d), 9x9 deconvolution."""

    scale_in_weights = False

    def __init__(self, scale: int = 2, num_channels: int = 1, d: int = 56, s: int = 12, m: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self.scales: tuple[int, ...] = (2, 3, 4, 8)
        self.first_part = nn.Sequential(nn.Conv2d(num_channels, d, 5, padding=2), nn.PReLU(d))
        mid: list[nn.Module] = [nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            mid += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        mid += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.mid_part = nn.Sequential(*mid)
        self.last_part = nn.ConvTranspose2d(d, num_channels, 9, stride=scale, padding=4,
                                            output_padding=scale - 1)

    def set_scale(self, scale: int) -> None:
        """The deconvolution's stride (the weights are the same shape at every scale)."""
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2:
            raise ValueError(f"FSRCNN needs an integer scale >= 2, got {scale!r}")
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale
        h = self.mid_part(self.first_part(x))
        return F.conv_transpose2d(h, self.last_part.weight, self.last_part.bias, stride=s, padding=4,
                                  output_padding=s - 1)


def _detect(sd: dict[str, torch.Tensor]) -> bool:
    return (has_all(sd, "first_part.0.weight", "first_part.1.weight", "mid_part.0.weight", "last_part.weight")
            and sd["last_part.weight"].ndim == 4 and sd["last_part.weight"].shape[2:] == (9, 9))


def _load(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    d, ch = sd["first_part.0.weight"].shape[:2]
    s = sd["mid_part.0.weight"].shape[0]
    m = numbered(sd, r"mid_part\.(\d+)\.weight") // 2 - 2
    model = FSRCNN(2, ch, d, s, m)
    model.load_state_dict(sd, strict=True)
    return descriptor(arch, model, sd, scale=2, channels=ch,
                      tags=[f"d={d}", f"s={s}", f"m={m}", "Y only", "scale: file name or --scale"])


def fsrcnn_architecture() -> Any:
    return architecture("FSRCNN", "FSRCNN", _detect, _load)
