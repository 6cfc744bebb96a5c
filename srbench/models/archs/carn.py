"""CARN and CARN-M (Ahn et al., ECCV 2018), the authors' layout (nmhkahn/CARN-pytorch ``carn.py``/``ops.py``).

Names: ``sub_mean``/``add_mean`` (1x1 mean-shift convolutions, stored), ``entry``, ``b1``..``b3`` (cascading
blocks, each with ``b1``..``b3`` residual blocks and ``c1``..``c3`` 1x1 fusions), ``c1``..``c3``,
``upsample`` and ``exit``. The released checkpoints are multi-scale (``upsample.up2``/``up3``/``up4``: one
network for x2, x3 and x4, the branch chosen at run time); single-scale ones have ``upsample.up``.
CARN-M uses grouped efficient residual blocks (``group`` 4). RGB in [0, 1] (mean in [0, 1] units).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from srbench.models.archs._common import architecture, descriptor, has_all

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


class MeanShift(nn.Module):
    """``x + sign * mean`` as the authors' 1x1 convolution (identity weights; stored in the checkpoint)."""

    def __init__(self, mean: tuple[float, float, float], sign: float) -> None:
        super().__init__()
        self.shifter = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.shifter.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.shifter.bias.copy_(torch.tensor(mean) * sign)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shifter(x)


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int = 1, pad: int = 0) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, k, 1, pad), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ResidualBlock(nn.Module):
    """conv3x3, ReLU, conv3x3, + x, ReLU (CARN)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


class EResidualBlock(nn.Module):
    """grouped conv3x3, ReLU, grouped conv3x3, ReLU, conv1x1, + x, ReLU (CARN-M)."""

    def __init__(self, c: int, group: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, groups=group), nn.ReLU(inplace=True),
                                  nn.Conv2d(c, c, 3, 1, 1, groups=group), nn.ReLU(inplace=True),
                                  nn.Conv2d(c, c, 1, 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


class Cascade(nn.Module):
    """Three (block, 1x1 fusion of everything so far) steps; CARN-M shares one residual block (``b1``)."""

    def __init__(self, c: int, group: int, mobile: bool) -> None:
        super().__init__()
        self.mobile = mobile
        if mobile:
            self.b1 = EResidualBlock(c, group)
        else:
            self.b1, self.b2, self.b3 = ResidualBlock(c), ResidualBlock(c), ResidualBlock(c)
        self.c1, self.c2, self.c3 = BasicBlock(c * 2, c), BasicBlock(c * 3, c), BasicBlock(c * 4, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = (self.b1, self.b1, self.b1) if self.mobile else (self.b1, self.b2, self.b3)
        cat, o = x, x
        for block, fuse in zip(blocks, (self.c1, self.c2, self.c3), strict=True):
            cat = torch.cat([cat, block(o)], dim=1)
            o = fuse(cat)
        return o


def _upsampler(c: int, scale: int, group: int) -> nn.Module:
    class _Up(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            if scale == 3:
                layers += [nn.Conv2d(c, 9 * c, 3, 1, 1, groups=group), nn.ReLU(inplace=True),
                           nn.PixelShuffle(3)]
            else:
                for _ in range(int(math.log2(scale))):
                    layers += [nn.Conv2d(c, 4 * c, 3, 1, 1, groups=group), nn.ReLU(inplace=True),
                               nn.PixelShuffle(2)]
            self.body = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

    if scale not in (2, 3, 4, 8):
        raise ValueError(f"CARN supports scales 2, 3, 4 and 8, got {scale}")
    return _Up()


class CARN(nn.Module):
    """CARN (or CARN-M with ``mobile``); ``multi_scale`` builds x2/x3/x4 branches, ``scale`` picks one."""

    def __init__(self, scale: int = 4, *, multi_scale: bool = False, mobile: bool = False, group: int = 1,
                 channels: int = 64) -> None:
        super().__init__()
        self.multi_scale = multi_scale
        self.scales: tuple[int, ...] = (2, 3, 4) if multi_scale else (scale,)
        if scale not in self.scales:
            raise ValueError(f"this CARN runs at x{'/x'.join(map(str, self.scales))}, not x{scale}")
        self.scale = scale
        self.sub_mean = MeanShift(DIV2K_MEAN, -1.0)
        self.add_mean = MeanShift(DIV2K_MEAN, 1.0)
        self.entry = nn.Conv2d(3, channels, 3, 1, 1)
        self.b1, self.b2, self.b3 = (Cascade(channels, group, mobile) for _ in range(3))
        self.c1, self.c2, self.c3 = (BasicBlock(channels * n, channels) for n in (2, 3, 4))
        self.upsample = nn.Module()
        for s in self.scales:
            setattr(self.upsample, f"up{s}" if multi_scale else "up", _upsampler(channels, s, group))
        self.exit = nn.Conv2d(channels, 3, 3, 1, 1)

    def set_scale(self, scale: int) -> None:
        """Pick the upsampling branch of a multi-scale network (2, 3 or 4)."""
        if scale not in self.scales:
            raise ValueError(f"this CARN runs at x{'/x'.join(map(str, self.scales))}, not x{scale}")
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.entry(self.sub_mean(x))
        cat, o = x, x
        for block, fuse in zip((self.b1, self.b2, self.b3), (self.c1, self.c2, self.c3), strict=True):
            cat = torch.cat([cat, block(o)], dim=1)
            o = fuse(cat)
        up = getattr(self.upsample, f"up{self.scale}" if self.multi_scale else "up")
        return self.add_mean(self.exit(up(o)))


def _detect(sd: dict[str, torch.Tensor]) -> bool:
    return (has_all(sd, "sub_mean.shifter.weight", "entry.weight", "b1.b1.body.0.weight",
                    "b1.c1.body.0.weight", "c3.body.0.weight", "exit.weight")
            and any(k.startswith("upsample.up") for k in sd))


def _load(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    channels = sd["entry.weight"].shape[0]
    multi = "upsample.up2.body.0.weight" in sd
    mobile = "b1.b2.body.0.weight" not in sd
    group = channels // sd["b1.b1.body.0.weight"].shape[1]
    if multi:
        scale = 4
    else:
        stages = sum(1 for k in sd if k.startswith("upsample.up.body.") and k.endswith(".weight"))
        scale = 3 if sd["upsample.up.body.0.weight"].shape[0] == 9 * channels else 2 ** stages
    model = CARN(scale, multi_scale=multi, mobile=mobile, group=group, channels=channels)
    model.load_state_dict(sd, strict=True)
    tags = ["CARN-M" if mobile else "CARN", f"{channels}nf", *(["multi-scale x2/x3/x4"] if multi else [])]
    return descriptor(arch, model, sd, scale=scale, channels=3, tags=tags)


def carn_architecture() -> Any:
    return architecture("CARN", "CARN", _detect, _load)
