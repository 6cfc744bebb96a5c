"""RLFN: Residual Local Feature Network (Kong et al., CVPR-W NTIRE 2022), the authors' layout.

Module names follow bytedance/RLFN (``conv_1``, ``block_1``.. with ``c1_r``/``c2_r``/``c3_r``, ``c5`` and
``esa``, ``conv_2``, ``upsampler.0``): RLFN (52 features, 6 blocks) and the challenge's RLFN_Prune
(46 features, 48 mid channels, 4 blocks) both load; the sizes come from the weights. RGB in [0, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from srbench.models.archs._common import (
    architecture,
    conv,
    descriptor,
    has_all,
    numbered,
    pixelshuffle_block,
    shuffle_scale,
)
from srbench.models.archs.rfdn import ESA, ESA_MINIMUM


class RLFB(nn.Module):
    """Residual local feature block: three 3x3 + LeakyReLU(0.05), local skip, 1x1, ESA (no conv_max)."""

    def __init__(self, channels: int, mid_channels: int, esa_channels: int = 16) -> None:
        super().__init__()
        self.c1_r = conv(channels, mid_channels, 3)
        self.c2_r = conv(mid_channels, mid_channels, 3)
        self.c3_r = conv(mid_channels, channels, 3)
        self.c5 = conv(channels, channels, 1)
        self.esa = ESA(channels, esa_channels, rfdn=False)
        self.act = nn.LeakyReLU(0.05, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.c3_r(self.act(self.c2_r(self.act(self.c1_r(x))))))
        return self.esa(self.c5(out + x))


class RLFN(nn.Module):
    """RLFN: 3x3 head, ``num_blocks`` RLFBs, 3x3 + global skip, pixel-shuffle upsampler."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, feature_channels: int = 52,
                 mid_channels: int | None = None, num_blocks: int = 6, esa_channels: int = 16,
                 upscale: int = 4) -> None:
        super().__init__()
        mid = mid_channels or feature_channels
        self.num_blocks = num_blocks
        self.conv_1 = conv(in_channels, feature_channels, 3)
        for i in range(1, num_blocks + 1):
            setattr(self, f"block_{i}", RLFB(feature_channels, mid, esa_channels))
        self.conv_2 = conv(feature_channels, feature_channels, 3)
        self.upsampler = pixelshuffle_block(feature_channels, out_channels, upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.conv_1(x)
        h = fea
        for i in range(1, self.num_blocks + 1):
            h = getattr(self, f"block_{i}")(h)
        return self.upsampler(self.conv_2(h) + fea)


def _detect(sd: dict[str, torch.Tensor]) -> bool:
    return (has_all(sd, "conv_1.weight", "block_1.c1_r.weight", "block_1.c5.weight",
                    "block_1.esa.conv1.weight", "conv_2.weight", "upsampler.0.weight")
            and "block_1.esa.conv_max.weight" not in sd)


def _load(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    nf, in_nc = sd["conv_1.weight"].shape[:2]
    mid = sd["block_1.c1_r.weight"].shape[0]
    esa = sd["block_1.esa.conv1.weight"].shape[0]
    blocks = numbered(sd, r"block_(\d+)\.c1_r\.weight")
    scale = shuffle_scale(sd, "upsampler.0.weight", in_nc)
    model = RLFN(in_nc, in_nc, nf, mid, blocks, esa, scale)
    model.load_state_dict(sd, strict=True)
    return descriptor(arch, model, sd, scale=scale, channels=in_nc,
                      tags=[f"{nf}nf", f"{mid}mid", f"{blocks}b", f"esa{esa}"], minimum=ESA_MINIMUM)


def rlfn_architecture() -> Any:
    return architecture("RLFN", "RLFN", _detect, _load)
