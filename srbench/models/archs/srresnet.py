"""The SRGAN paper's networks (Ledig et al., CVPR 2017): the SRResNet generator and the discriminator.

Ranges are the paper's: the generator takes LR in [0, 1] and ends in ``tanh`` (SR in [-1, 1]); the
discriminator takes HR-sized images in [-1, 1] and returns one **logit** per image (the sigmoid of the
paper lives inside a numerically stable BCE-with-logits loss). :class:`UnitRange` converts the generator's
output to srbench's [0, 1]; the geometry (scales, receptive radius) is :mod:`srbench.models.archs.geometry`.

Choices the paper leaves open, fixed here and counted in the tests:
- PReLU has one shared slope per layer (PyTorch's default ``nn.PReLU()``), as in the common PyTorch
  reproductions; the Keras seed article uses one slope per channel (+63 parameters per PReLU).
- Convolutions followed by BN keep their bias (as the Keras/TF implementations do); BN folding absorbs it.
- x3 uses one 64 -> 576 convolution + pixel shuffle x3 (docs/protocol.md, "Training recipe"); x2 one x2 stage; x4 two;
  x8 three x2 stages (as the SRGAN Keras seed code and the x8 tracks of EDSR/RCAN).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from srbench.interfaces import FusionUnsupported
from srbench.models.archs.fused import build_plan
from srbench.models.archs.geometry import receptive_radius, upsample_factors


class ResidualBlock(nn.Module):
    """3x3 conv, BN, PReLU, 3x3 conv, BN, identity skip. ``body`` is a Sequential so BN folding finds it."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.PReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """SRResNet generator: LR float NCHW in [0, 1] -> SR in [-1, 1] (tanh), ``scale`` times larger.

    ``receptive_radius`` is the reach of one output pixel into the LR input, in LR pixels (rounded up):
    tiling with at least this overlap reproduces the untiled output (BN in eval mode / folded).
    :meth:`forward_plan` is the fused inference plan (:class:`srbench.interfaces.Fusable`).
    """

    def __init__(self, scale: int = 4, channels: int = 64, n_blocks: int = 16) -> None:
        super().__init__()
        factors = upsample_factors(scale)
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(3, channels, 9, padding=4), nn.PReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(n_blocks)])
        self.post = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels))
        ups: list[nn.Module] = []
        for f in factors:
            ups += [nn.Conv2d(channels, channels * f * f, 3, padding=1), nn.PixelShuffle(f), nn.PReLU()]
        self.upsample = nn.Sequential(*ups)
        self.tail = nn.Conv2d(channels, 3, 9, padding=4)
        self.receptive_radius = receptive_radius(scale, n_blocks)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = self.head(lr)
        x = x + self.post(self.blocks(x))
        return torch.tanh(self.tail(self.upsample(x)))

    def forward_plan(self, *, device: str | torch.device = "cpu",
                     dtype: str = "fp32") -> Callable[[torch.Tensor], torch.Tensor]:
        """The fused plan of this network (SR in [-1, 1], as ``forward``): :mod:`.fused`."""
        return build_plan(self, output="tanh", device=device, dtype=dtype)


class UnitRange(nn.Module):
    """Wraps a tanh generator so the module maps [0, 1] LR to [0, 1]-ish SR (srbench's convention):
    ``(net(lr) + 1) / 2``. This is the ``module`` of the SRResNet adapters."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return (self.net(lr) + 1.0) * 0.5

    def forward_plan(self, *, device: str | torch.device = "cpu",
                     dtype: str = "fp32") -> Callable[[torch.Tensor], torch.Tensor]:
        """The fused plan of the wrapped SRResNet with the [0, 1] mapping inside its last convolution."""
        if not isinstance(self.net, SRResNet):
            raise FusionUnsupported(f"{type(self.net).__name__} is not an SRResNet (the plan's network)")
        return build_plan(self.net, output="unit", device=device, dtype=dtype)


class Discriminator(nn.Module):
    """SRGAN discriminator for ``hr_size`` x ``hr_size`` inputs in [-1, 1]; returns logits of shape (N,).

    3x3 conv 64 + LeakyReLU(0.2); 7 conv-BN-LeakyReLU blocks (64, 128, 128, 256, 256, 512, 512 channels,
    strides 2, 1, 2, 1, 2, 1, 2); dense 1024 + LeakyReLU(0.2); dense 1. The dense layer fixes the input
    size (the paper's 96 gives 6x6x512 features); ``hr_size`` must be a multiple of 16.
    """

    CHANNELS = (64, 128, 128, 256, 256, 512, 512)
    STRIDES = (2, 1, 2, 1, 2, 1, 2)

    def __init__(self, hr_size: int = 96) -> None:
        super().__init__()
        if hr_size % 16 or hr_size <= 0:
            raise ValueError(f"discriminator input size must be a positive multiple of 16, got {hr_size}")
        self.hr_size = hr_size
        layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, padding=1), nn.LeakyReLU(0.2)]
        c_in = 64
        for c_out, stride in zip(self.CHANNELS, self.STRIDES, strict=True):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = hr_size // 16
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(512 * side * side, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.hr_size, self.hr_size):
            raise ValueError(
                f"discriminator built for {self.hr_size}x{self.hr_size} inputs, got {tuple(x.shape[-2:])}"
            )
        return self.classifier(self.features(x)).squeeze(1)


