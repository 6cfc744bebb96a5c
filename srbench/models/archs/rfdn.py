"""RFDN: Residual Feature Distillation Network (Liu et al., ECCV-W AIM 2020), the authors' layout.

Module names follow njulj/RFDN (``fea_conv``, ``B1``..``B4`` with ``c1_d``/``c1_r``..``c4``, ``c5`` and
``esa``, ``c.0``, ``LR_conv``, ``upsampler.0``). Input and output are RGB in [0, 1]; LeakyReLU slope 0.05.
:class:`ESA` (enhanced spatial attention) is shared with RLFN, which drops its ``conv_max``/``conv3_`` pair.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
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

ESA_MINIMUM = 15  # ESA's strided 3x3 then 7x7 max-pool need 15 input pixels


class ESA(nn.Module):
    """Enhanced spatial attention: 1x1 down to ``f``, strided 3x3, 7/3 max-pool, 3x3 (x3 in RFDN, x1 in
    RLFN), bilinear back to the input size, + a 1x1 of the first features, 1x1 up, sigmoid gate."""

    def __init__(self, channels: int, f: int, *, rfdn: bool = True) -> None:
        super().__init__()
        self.rfdn = rfdn
        self.conv1 = nn.Conv2d(channels, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        if rfdn:
            self.conv_max = nn.Conv2d(f, f, 3, padding=1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        if rfdn:
            self.conv3_ = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v = F.max_pool2d(c1, kernel_size=7, stride=3)
        if self.rfdn:
            v = F.relu(self.conv_max(v))
            c3 = self.conv3_(F.relu(self.conv3(v)))
        else:
            c3 = self.conv3(v)
        c3 = F.interpolate(c3, (x.size(2), x.size(3)), mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.conv4(c3 + self.conv_f(c1_)))


class RFDB(nn.Module):
    """Residual feature distillation block: 3 (1x1 distil, 3x3 shallow-residual) steps, 3x3, 1x1 fuse, ESA."""

    def __init__(self, channels: int, esa_channels: int | None = None) -> None:
        super().__init__()
        dc = channels // 2
        self.c1_d = conv(channels, dc, 1)
        self.c1_r = conv(channels, channels, 3)
        self.c2_d = conv(channels, dc, 1)
        self.c2_r = conv(channels, channels, 3)
        self.c3_d = conv(channels, dc, 1)
        self.c3_r = conv(channels, channels, 3)
        self.c4 = conv(channels, dc, 3)
        self.act = nn.LeakyReLU(0.05, inplace=True)
        self.c5 = conv(dc * 4, channels, 1)
        self.esa = ESA(channels, esa_channels or channels // 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.act(self.c1_d(x))
        r1 = self.act(self.c1_r(x) + x)
        d2 = self.act(self.c2_d(r1))
        r2 = self.act(self.c2_r(r1) + r1)
        d3 = self.act(self.c3_d(r2))
        r3 = self.act(self.c3_r(r2) + r2)
        r4 = self.act(self.c4(r3))
        return self.esa(self.c5(torch.cat([d1, d2, d3, r4], dim=1)))


class RFDN(DistillationTrunk):
    """RFDN: ``num_modules`` RFDBs of ``nf`` features (50 and 4 in the paper), IMDN's trunk and upsampler."""

    def __init__(self, in_nc: int = 3, nf: int = 50, num_modules: int = 4, out_nc: int = 3, upscale: int = 4,
                 esa_channels: int | None = None) -> None:
        super().__init__("B", lambda: RFDB(nf, esa_channels), in_nc=in_nc, nf=nf, num_modules=num_modules,
                         out_nc=out_nc, upscale=upscale)


def _detect(sd: dict[str, torch.Tensor]) -> bool:
    return has_all(sd, "fea_conv.weight", "B1.c1_d.weight", "B1.c1_r.weight", "B1.esa.conv_max.weight",
                   "c.0.weight", "LR_conv.weight", "upsampler.0.weight")


def _load(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    nf, in_nc = sd["fea_conv.weight"].shape[:2]
    modules = numbered(sd, r"B(\d+)\.c1_d\.weight")
    esa = sd["B1.esa.conv1.weight"].shape[0]
    scale = shuffle_scale(sd, "upsampler.0.weight", in_nc)
    model = RFDN(in_nc=in_nc, nf=nf, num_modules=modules, out_nc=in_nc, upscale=scale, esa_channels=esa)
    model.load_state_dict(sd, strict=True)
    return descriptor(arch, model, sd, scale=scale, channels=in_nc, tags=[f"{nf}nf", f"{modules}m"],
                      minimum=ESA_MINIMUM)


def rfdn_architecture() -> Any:
    return architecture("RFDN", "RFDN", _detect, _load)
