"""SRCNN (Dong et al. 2014/2016): a pre-upsampling, Y-only network (scale 1 on the bicubic-upsampled Y).

Two layouts: ``conv1``/``conv2``/``conv3`` (yjn870, and srbench's own), run with replicate padding as the
authors' MATLAB test code does; and ``features.0``/``map.0``/``reconstruction`` (Lornatang/SRCNN-PyTorch),
run with that code's zero padding. See :mod:`srbench.models.files.preupsample` for the Y/bicubic handling.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from srbench.models.archs._common import architecture, descriptor


class SRCNN(nn.Module):
    """SRCNN f1-f2-f3 on one channel (Y), scale 1: it refines the bicubic-upsampled image.

    Replicate padding keeps the size, as the authors' MATLAB test code does (``imfilter(..., 'same',
    'replicate')`` for the 9x9 and 5x5 layers).
    """

    def __init__(self, *, channels: int = 1, f1: int = 9, f2: int = 1, f3: int = 5, n1: int = 64,
                 n2: int = 32, padding_mode: str = "replicate") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, n1, f1, padding=f1 // 2, padding_mode=padding_mode)
        self.conv2 = nn.Conv2d(n1, n2, f2, padding=f2 // 2, padding_mode=padding_mode)
        self.conv3 = nn.Conv2d(n2, channels, f3, padding=f3 // 2, padding_mode=padding_mode)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.relu(self.conv2(self.relu(self.conv1(x)))))


class SRCNNSeq(nn.Module):
    """SRCNN in Lornatang's layout: ``features`` (conv + ReLU), ``map`` (conv + ReLU), ``reconstruction``;
    zero padding (``padding=k // 2``), as that code runs it."""

    def __init__(self, *, channels: int = 1, f1: int = 9, f2: int = 5, f3: int = 5, n1: int = 64,
                 n2: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(channels, n1, f1, padding=f1 // 2), nn.ReLU(inplace=True))
        self.map = nn.Sequential(nn.Conv2d(n1, n2, f2, padding=f2 // 2), nn.ReLU(inplace=True))
        self.reconstruction = nn.Conv2d(n2, channels, f3, padding=f3 // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruction(self.map(self.features(x)))


LAYOUTS = {"conv": ("conv1", "conv2", "conv3"), "seq": ("features.0", "map.0", "reconstruction")}


def _detect(sd: dict[str, torch.Tensor]) -> bool:
    for names in LAYOUTS.values():
        if set(sd) == {f"{n}.{p}" for n in names for p in ("weight", "bias")}:
            return sd[f"{names[0]}.weight"].shape[1] == sd[f"{names[2]}.weight"].shape[0]
    return False


def _load(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    layout = "conv" if "conv1.weight" in sd else "seq"
    first, mid, last = LAYOUTS[layout]
    n1, ch, f1, _ = sd[f"{first}.weight"].shape
    n2, _, f2, _ = sd[f"{mid}.weight"].shape
    f3 = sd[f"{last}.weight"].shape[2]
    cls = SRCNN if layout == "conv" else SRCNNSeq
    model = cls(channels=ch, f1=f1, f2=f2, f3=f3, n1=n1, n2=n2)
    model.load_state_dict(sd, strict=True)
    tags = [f"{f1}-{f2}-{f3}", "pre-upsampling"]
    if layout == "seq":
        tags.append("features/map/reconstruction")
    return descriptor(arch, model, sd, scale=1, channels=ch, tags=tags, purpose="Restoration")


def srcnn_architecture() -> Any:
    return architecture("SRCNN", "SRCNN (pre-upsampling, Y)", _detect, _load)
