"""Pieces shared by the lightweight-SR families (IMDN, RFDN, RLFN, SPAN) and their spandrel descriptors."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def conv(c_in: int, c_out: int, k: int, *, groups: int = 1, bias: bool = True) -> nn.Conv2d:
    """A ``k`` x ``k`` convolution that keeps the size (padding ``k // 2``), as these families write it."""
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=bias)


def pixelshuffle_block(c_in: int, c_out: int, scale: int) -> nn.Sequential:
    """One 3x3 convolution to ``c_out * scale**2`` channels and one pixel shuffle (keys ``upsampler.0``)."""
    return nn.Sequential(conv(c_in, c_out * scale * scale, 3), nn.PixelShuffle(scale))


def shuffle_scale(state_dict: dict[str, torch.Tensor], key: str, out_channels: int) -> int:
    """The pixel-shuffle factor of the convolution ``key`` (``out_channels * scale**2`` outputs)."""
    ratio = state_dict[key].shape[0] // out_channels
    scale = math.isqrt(ratio)
    if scale * scale != ratio or state_dict[key].shape[0] % out_channels:
        n = state_dict[key].shape[0]
        raise ValueError(f"{key} has {n} output channels: not {out_channels} x a square")
    return scale


def numbered(state_dict: dict[str, torch.Tensor], pattern: str) -> int:
    """How many consecutive indices 1.. (or 0..) match ``pattern`` (a regex with one ``(\\d+)`` group)."""
    found = {int(m.group(1)) for k in state_dict if (m := re.fullmatch(pattern, k))}
    n = 0
    start = 0 if 0 in found else 1
    while start + n in found:
        n += 1
    return n


def has_all(state_dict: dict[str, torch.Tensor], *keys: str) -> bool:
    return all(k in state_dict for k in keys)


def descriptor(arch: Any, model: nn.Module, state_dict: dict[str, torch.Tensor], *, scale: int, channels: int,
               tags: list[str], purpose: str = "SR", minimum: int = 0) -> Any:
    """spandrel's ImageModelDescriptor for ``model`` (weights already loaded, strict); ``minimum``: the
    smallest input side the network accepts (``file:`` pads smaller inputs and crops the output)."""
    from spandrel import ImageModelDescriptor, SizeRequirements

    return ImageModelDescriptor(model, state_dict, architecture=arch, purpose=purpose, tags=tags,
                                size_requirements=SizeRequirements(minimum=minimum),
                                supports_half=True, supports_bfloat16=True, scale=scale,
                                input_channels=channels, output_channels=channels)


def architecture(arch_id: str, name: str, detect: Any, load: Any) -> Any:
    """A spandrel ``Architecture`` named ``name`` whose ``load(state_dict)`` is ``load(arch, state_dict)``."""
    from spandrel import Architecture

    class _Arch(Architecture[nn.Module]):
        def __init__(self) -> None:
            super().__init__(id=arch_id, name=name, detect=detect)

        def load(self, state_dict: dict[str, torch.Tensor]) -> Any:
            return load(self, state_dict)

    return _Arch()


class DistillationTrunk(nn.Module):
    """The trunk IMDN introduced and RFDN kept: a 3x3 feature conv, ``num_modules`` blocks named
    ``<prefix><i>`` (the authors' parameter names), their outputs fused by 1x1 conv + LeakyReLU(0.05), a 3x3
    conv, the global skip and a pixel-shuffle upsampler."""

    def __init__(self, prefix: str, block: Callable[[], nn.Module], *, in_nc: int, nf: int, num_modules: int,
                 out_nc: int, upscale: int) -> None:
        super().__init__()
        self.num_modules, self.prefix = num_modules, prefix
        self.fea_conv = conv(in_nc, nf, 3)
        for i in range(1, num_modules + 1):
            setattr(self, f"{prefix}{i}", block())
        self.c = nn.Sequential(conv(nf * num_modules, nf, 1), nn.LeakyReLU(0.05, inplace=True))
        self.LR_conv = conv(nf, nf, 3)
        self.upsampler = pixelshuffle_block(nf, out_nc, upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.fea_conv(x)
        outs = []
        h = fea
        for i in range(1, self.num_modules + 1):
            h = getattr(self, f"{self.prefix}{i}")(h)
            outs.append(h)
        return self.upsampler(self.LR_conv(self.c(torch.cat(outs, dim=1))) + fea)
