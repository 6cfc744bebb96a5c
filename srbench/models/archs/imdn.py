"""IMDN: Information Multi-Distillation Network (Hui et al., ACM MM 2019), the authors' layout.

Module names follow Zheng222/IMDN (``fea_conv``, ``IMDB1``..``IMDB6`` with ``c1``..``c5`` and ``cca.conv_du``,
``c.0``, ``LR_conv``, ``upsampler.0``) so the released ``checkpoints/IMDN_x{2,3,4}.pth`` (saved from
``nn.DataParallel``: ``module.`` prefixes, which srbench's reader removes) load strictly. Input and output
are RGB in [0, 1] (the authors' test script divides the uint8 image by 255). LeakyReLU slope 0.05.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from srbench.models.archs._common import (
    DistillationTrunk,
    architecture,
    conv,
    descriptor,
    has_all,
    numbered,
    shuffle_scale,
)


def _contrast(x: torch.Tensor) -> torch.Tensor:
    """Per-channel standard deviation over the image (the "contrast" of the CCA layer), population form."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).pow(0.5)


class CCALayer(nn.Module):
    """Contrast-aware channel attention: (std + mean) -> 1x1 down -> ReLU -> 1x1 up -> sigmoid gate."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(_contrast(x) + x.mean(dim=(2, 3), keepdim=True))


class IMDModule(nn.Module):
    """Information multi-distillation block: 4 steps keep a quarter of the channels each, CCA, 1x1 fuse."""

    def __init__(self, channels: int, distillation_rate: float = 0.25) -> None:
        super().__init__()
        self.distilled = int(channels * distillation_rate)
        self.remaining = channels - self.distilled
        self.c1 = conv(channels, channels, 3)
        self.c2 = conv(self.remaining, channels, 3)
        self.c3 = conv(self.remaining, channels, 3)
        self.c4 = conv(self.remaining, self.distilled, 3)
        self.act = nn.LeakyReLU(0.05, inplace=True)
        self.c5 = conv(self.distilled * 4, channels, 1)
        self.cca = CCALayer(self.distilled * 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        split = (self.distilled, self.remaining)
        d1, r1 = torch.split(self.act(self.c1(x)), split, dim=1)
        d2, r2 = torch.split(self.act(self.c2(r1)), split, dim=1)
        d3, r3 = torch.split(self.act(self.c3(r2)), split, dim=1)
        out = torch.cat([d1, d2, d3, self.c4(r3)], dim=1)
        return self.c5(self.cca(out)) + x


class IMDN(DistillationTrunk):
    """IMDN: ``num_modules`` IMDBs of ``nf`` features, 1x1 fusion, 3x3, global skip, pixel shuffle."""

    def __init__(self, in_nc: int = 3, nf: int = 64, num_modules: int = 6, out_nc: int = 3,
                 upscale: int = 4) -> None:
        super().__init__("IMDB", lambda: IMDModule(nf), in_nc=in_nc, nf=nf, num_modules=num_modules,
                         out_nc=out_nc, upscale=upscale)


def _detect(sd: dict[str, torch.Tensor]) -> bool:
    return has_all(sd, "fea_conv.weight", "IMDB1.c1.weight", "IMDB1.c5.weight", "IMDB1.cca.conv_du.0.weight",
                   "c.0.weight", "LR_conv.weight", "upsampler.0.weight")


def _load(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    nf, in_nc = sd["fea_conv.weight"].shape[:2]
    modules = numbered(sd, r"IMDB(\d+)\.c1\.weight")
    scale = shuffle_scale(sd, "upsampler.0.weight", in_nc)
    model = IMDN(in_nc=in_nc, nf=nf, num_modules=modules, out_nc=in_nc, upscale=scale)
    model.load_state_dict(sd, strict=True)
    return descriptor(arch, model, sd, scale=scale, channels=in_nc, tags=[f"{nf}nf", f"{modules}m"])


def imdn_architecture() -> Any:
    return architecture("IMDN", "IMDN", _detect, _load)
