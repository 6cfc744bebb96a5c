"""EDSR in BasicSR's layout (Lim et al. 2017): ``conv_first``, ``body.N.conv1/conv2``, ``conv_after_body``,
``upsample``, ``conv_last``: the layout of BasicSR's released EDSR checkpoints (``params`` wrapped).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import nn


class _ResidualBlockNoBN(nn.Module):
    def __init__(self, num_feat: int, res_scale: float) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class EDSR(nn.Module):
    """BasicSR's EDSR: [0, 1] RGB in, [0, 1] RGB out (``img_range`` 255 and the DIV2K mean inside).

    ``res_scale`` is not stored in a checkpoint: EDSR-L (256 features, 32 blocks) uses 0.1, EDSR-M 1.
    """

    def __init__(self, *, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 upscale: int = 4, res_scale: float = 1.0, img_range: float = 255.0,
                 rgb_mean: tuple[float, float, float] = (0.4488, 0.4371, 0.4040)) -> None:
        super().__init__()
        self.img_range = img_range
        self.register_buffer("mean", torch.tensor(rgb_mean).view(1, 3, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[_ResidualBlockNoBN(num_feat, res_scale) for _ in range(num_block)])
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        up: list[nn.Module] = []
        if upscale & (upscale - 1) == 0:
            for _ in range(int(math.log2(upscale))):
                up += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
        elif upscale == 3:
            up += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"EDSR supports scales 2^n and 3, got {upscale}")
        self.upsample = nn.Sequential(*up)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.mean.to(x.dtype)
        x = (x - mean) * self.img_range
        x = self.conv_first(x)
        x = self.conv_after_body(self.body(x)) + x
        x = self.conv_last(self.upsample(x))
        return x / self.img_range + mean


def edsr_architecture() -> Any:
    from spandrel import Architecture, ImageModelDescriptor

    class EDSRArch(Architecture[EDSR]):
        def __init__(self) -> None:
            super().__init__(id="EDSR", name="EDSR (BasicSR)", detect=lambda sd: all(
                k in sd for k in ("conv_first.weight", "body.0.conv1.weight", "conv_after_body.weight",
                                  "upsample.0.weight", "conv_last.weight")))

        def load(self, state_dict: dict[str, torch.Tensor]) -> Any:
            num_feat, num_in_ch = state_dict["conv_first.weight"].shape[:2]
            num_out_ch = state_dict["conv_last.weight"].shape[0]
            pattern = r"body\.(\d+)\.conv1\.weight"
            blocks = {int(m.group(1)) for k in state_dict if (m := re.match(pattern, k))}
            stages = [k for k in state_dict if re.fullmatch(r"upsample\.\d+\.weight", k)]
            ratio = state_dict["upsample.0.weight"].shape[0] // num_feat
            scale = 3 if ratio == 9 else 2 ** len(stages)
            res_scale = 0.1 if num_feat >= 256 else 1.0  # BasicSR's EDSR-L / EDSR-M configs
            model = EDSR(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat, num_block=len(blocks),
                         upscale=scale, res_scale=res_scale)
            model.load_state_dict(state_dict, strict=True)
            return ImageModelDescriptor(model, state_dict, architecture=self, purpose="SR",
                                        tags=[f"{num_feat}nf", f"{len(blocks)}nb", f"res_scale={res_scale}"],
                                        supports_half=True, supports_bfloat16=True, scale=scale,
                                        input_channels=num_in_ch, output_channels=num_out_ch)

    return EDSRArch()
