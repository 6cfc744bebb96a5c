"""SPAN (Wan et al., CVPR-W NTIRE 2024) in its re-parameterised deploy form: only ``eval_conv`` weights.

SPAN trains each 3x3 as ``Conv3XC`` (1x1 -> 3x3 -> 1x1 plus a 1x1 skip) and folds it into one 3x3
``eval_conv`` for inference; challenge entries (e.g. NTIRE 2024 ESR team 38, 28 channels, x4) release
only the folded weights, which spandrel's SPAN (it wants the training keys ``sk``/``conv``) does not load.
This network is the deploy graph with the authors' names (hongyuanyu/SPAN ``span_arch.py``): ``conv_1``,
``block_1``..``block_6`` (``c1_r``/``c2_r``/``c3_r``), ``conv_cat``, ``conv_2``, ``upsampler.0``.

Input RGB in [0, 1]; inside, ``(x - mean) * 255`` with the DIV2K mean; the output is not de-normalised
(the network learned [0, 1] outputs), as in the authors' code.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from srbench.models.archs._common import architecture, descriptor, has_all, pixelshuffle_block, shuffle_scale

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


class FoldedConv(nn.Module):
    """A folded ``Conv3XC``: one 3x3 convolution named ``eval_conv``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.eval_conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.eval_conv(x)


class SPAB(nn.Module):
    """Swift parameter-free attention block: 3 folded convs with SiLU, attention ``sigmoid(out3) - 0.5``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = FoldedConv(channels, channels)
        self.c2_r = FoldedConv(channels, channels)
        self.c3_r = FoldedConv(channels, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # The authors' SiLU is in place, so the "out1" they return (block 6's goes into the concatenation)
        # is SiLU(c1_r(x)), not c1_r(x): the released weights are trained with that.
        out1 = F.silu(self.c1_r(x))
        out3 = self.c3_r(F.silu(self.c2_r(out1)))
        return (out3 + x) * (torch.sigmoid(out3) - 0.5), out1


class SPANDeploy(nn.Module):
    """SPAN with folded convolutions: 6 SPABs, the 4-way concatenation, 1x1, pixel-shuffle upsampler."""

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, feature_channels: int = 48, upscale: int = 4,
                 img_range: float = 255.0, rgb_mean: tuple[float, float, float] = DIV2K_MEAN) -> None:
        super().__init__()
        self.img_range = img_range
        self.register_buffer("mean", torch.tensor(rgb_mean).view(1, 3, 1, 1), persistent=False)
        self.conv_1 = FoldedConv(num_in_ch, feature_channels)
        for i in range(1, 7):
            setattr(self, f"block_{i}", SPAB(feature_channels))
        self.conv_cat = nn.Conv2d(feature_channels * 4, feature_channels, 1)
        self.conv_2 = FoldedConv(feature_channels, feature_channels)
        self.upsampler = pixelshuffle_block(feature_channels, num_out_ch, upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean.to(x.dtype)) * self.img_range
        fea = self.conv_1(x)
        b1, _ = self.block_1(fea)
        h = b1
        for i in range(2, 6):
            h, _ = getattr(self, f"block_{i}")(h)
        b6, b6_1 = self.block_6(h)
        return self.upsampler(self.conv_cat(torch.cat([fea, self.conv_2(b6), b1, b6_1], dim=1)))


def _detect(sd: dict[str, torch.Tensor]) -> bool:
    return (has_all(sd, "conv_1.eval_conv.weight", "block_1.c1_r.eval_conv.weight",
                    "block_6.c3_r.eval_conv.weight", "conv_cat.weight", "conv_2.eval_conv.weight",
                    "upsampler.0.weight")
            and not any(".sk." in k or k.endswith("conv.0.weight") for k in sd))


def _load(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    nf, in_nc = sd["conv_1.eval_conv.weight"].shape[:2]
    scale = shuffle_scale(sd, "upsampler.0.weight", in_nc)
    model = SPANDeploy(in_nc, in_nc, nf, scale)
    model.load_state_dict(sd, strict=True)
    return descriptor(arch, model, sd, scale=scale, channels=in_nc, tags=[f"{nf}nf", "re-parameterised"])


def span_architecture() -> Any:
    return architecture("SPANDeploy", "SPAN (re-parameterised)", _detect, _load)
