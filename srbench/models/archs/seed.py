"""PyTorch twin of the seed's Keras SRGAN generator (the TensorFlow/Keras SRGAN of the tutorials).

Same layers, same order, same numbers as ``srbench.models.keras.seed.build_generator``, so weights convert
both ways (``srbench.models.keras.convert``). It differs from ``srbench.models.archs.srresnet.SRResNet``
where the Keras code differs from the PyTorch reproductions:

- PReLU has one slope **per channel** (Keras ``PReLU(shared_axes=[1, 2])``), initialised to 0 (Keras'
  default ``alpha_initializer="zeros"``);
- every BatchNorm has Keras' epsilon 1e-3; the residual blocks' BN use Keras momentum 0.8, which is torch
  momentum 0.2 (Keras: ``moving = m * moving + (1 - m) * batch``; torch: ``(1 - m) * running + m * batch``),
  the post-residual BN Keras' default 0.99 (torch 0.01);
- upsampling is (conv 64 -> 256, PixelShuffle 2, PReLU per channel) once for x2, twice for x4, three times
  for x8; there is no x3.

Ranges: the Keras model takes LR in [0, 255] and divides by 255 first; this twin takes the [0, 1] LR that
division produces, and returns the ``tanh`` output in [-1, 1] (the Keras model's ``(t + 1) * 127.5`` is
left to the adapter, which maps to srbench's [0, 1] with ``(t + 1) / 2``).
"""

from __future__ import annotations

import torch
from torch import nn

from srbench.models.archs.geometry import receptive_radius, upsample_stages

KERAS_BN_EPS = 1e-3


def keras_bn(channels: int, keras_momentum: float) -> nn.BatchNorm2d:
    """A BatchNorm2d that updates and normalises as Keras' ``BatchNormalization(momentum, epsilon=1e-3)``."""
    return nn.BatchNorm2d(channels, eps=KERAS_BN_EPS, momentum=1.0 - keras_momentum)


class SeedResidualBlock(nn.Module):
    """Conv 3x3, BN (0.8), PReLU per channel, conv 3x3, BN (0.8), identity skip."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            keras_bn(channels, 0.8),
            nn.PReLU(channels, init=0.0),
            nn.Conv2d(channels, channels, 3, padding=1),
            keras_bn(channels, 0.8),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SeedGenerator(nn.Module):
    """The seed's generator: LR float NCHW in [0, 1] -> SR in [-1, 1] (tanh), ``scale`` (2, 4, 8) times larger.

    ``n_blocks`` residual blocks (16 in the seed code; fewer for quick tests). Module names follow
    ``SRResNet`` (head, blocks, post, upsample, tail) so BN folding and tiling apply unchanged.
    """

    def __init__(self, scale: int = 4, n_blocks: int = 16, channels: int = 64) -> None:
        super().__init__()
        stages = upsample_stages(scale)
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 1:
            raise ValueError(f"n_blocks must be a positive integer, got {n_blocks!r}")
        self.scale = scale
        self.n_blocks = n_blocks
        self.head = nn.Sequential(nn.Conv2d(3, channels, 9, padding=4), nn.PReLU(channels, init=0.0))
        self.blocks = nn.Sequential(*[SeedResidualBlock(channels) for _ in range(n_blocks)])
        self.post = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), keras_bn(channels, 0.99))
        ups: list[nn.Module] = []
        for _ in range(stages):
            ups += [nn.Conv2d(channels, channels * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(channels, init=0.0)]
        self.upsample = nn.Sequential(*ups)
        self.tail = nn.Conv2d(channels, 3, 9, padding=4)
        self.receptive_radius = receptive_radius(scale, n_blocks)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = self.head(lr)
        x = x + self.post(self.blocks(x))
        return torch.tanh(self.tail(self.upsample(x)))


DISC_BLOCKS = ((64, 1, False), (64, 2, True), (128, 1, True), (128, 2, True), (256, 1, True), (256, 2, True),
               (512, 1, True), (512, 2, True))  # (filters, stride, batch norm), as the article's discriminator


class SeedDiscriminator(nn.Module):
    """The article's discriminator for ``hr_size`` x ``hr_size`` HR in [-1, 1] (its ``Lambda(normalize_m11)``
    applied to [0, 255]): 8 blocks of 3x3 conv (64, 64s2, 128, 128s2, 256, 256s2, 512, 512s2), BN (Keras
    momentum 0.8, epsilon 1e-3) except the first, LeakyReLU 0.2; Dense 1024, LeakyReLU 0.2, Dense 1.

    Returns the logit: the article's ``Dense(1, activation="sigmoid")`` followed by binary cross-entropy is
    ``binary_cross_entropy_with_logits`` on this logit (the same loss, computed stably).
    """

    def __init__(self, hr_size: int = 96) -> None:
        super().__init__()
        if hr_size <= 0 or hr_size % 16:
            raise ValueError(f"discriminator input size must be a positive multiple of 16, got {hr_size!r}")
        layers: list[nn.Module] = []
        c_in = 3
        for filters, stride, bn in DISC_BLOCKS:
            layers.append(nn.Conv2d(c_in, filters, 3, stride=stride, padding=1))
            if bn:
                layers.append(keras_bn(filters, 0.8))
            layers.append(nn.LeakyReLU(0.2))
            c_in = filters
        self.features = nn.Sequential(*layers)
        side = hr_size // 16
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(512 * side * side, 1024), nn.LeakyReLU(0.2),
                                        nn.Linear(1024, 1))

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(hr))
