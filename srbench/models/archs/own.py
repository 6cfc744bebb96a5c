"""srbench's own networks as spandrel architectures, so ``file:`` and ``models inspect`` know srbench's files.

* ``srbench SRResNet``: :class:`~srbench.models.archs.srresnet.SRResNet` (the packaged demo weights
  ``baselines/demo/*.safetensors`` and ``srbench train srresnet|srgan`` outputs; a train output also holds
  ``discriminator.*`` tensors, which srbench's reader drops: only the generator is evaluated).
* ``srbench seed generator``: :class:`~srbench.models.archs.seed.SeedGenerator` (``srbench convert``
  outputs of the Keras seed code). It differs from SRResNet in the weights by its per-channel PReLU slopes.

Both generators end in ``tanh`` ([-1, 1]); the descriptors' modules map to srbench's [0, 1] with
``(t + 1) / 2`` (as the ``srresnet``/``seed-srgan`` adapters do), keeping the generator's parameter names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from srbench.models.archs._common import architecture, descriptor, has_all, numbered
from srbench.models.archs.seed import SeedGenerator
from srbench.models.archs.srresnet import SRResNet


class SRResNetUnitRange(SRResNet):
    """SRResNet whose output is ``(tanh + 1) / 2``: [0, 1] LR in, [0, 1] SR out."""

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return (super().forward(lr) + 1.0) * 0.5


class SeedGeneratorUnitRange(SeedGenerator):
    """The seed generator whose output is ``(tanh + 1) / 2``: [0, 1] LR in, [0, 1] SR out."""

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return (super().forward(lr) + 1.0) * 0.5


def _detect(sd: dict[str, torch.Tensor]) -> bool:
    return (has_all(sd, "head.0.weight", "head.1.weight", "blocks.0.body.0.weight",
                    "blocks.0.body.1.running_mean", "post.0.weight", "post.1.running_var",
                    "upsample.0.weight", "tail.weight")
            and sd["head.0.weight"].shape[1:] == (3, 9, 9))


def _scale(sd: dict[str, torch.Tensor], channels: int) -> int:
    convs = [k for k in sd if k.startswith("upsample.") and k.endswith(".weight") and sd[k].ndim == 4]
    return 3 if sd["upsample.0.weight"].shape[0] == 9 * channels else 2 ** len(convs)


def _load_unit_range(arch: Any, sd: dict[str, torch.Tensor], build: Callable[[int, int, int], torch.nn.Module],
                     tags: list[str]) -> Any:
    """An srbench generator's state dict: ``build(scale, channels, blocks)`` is its unit-range network."""
    channels = sd["head.0.weight"].shape[0]
    blocks = numbered(sd, r"blocks\.(\d+)\.body\.0\.weight")
    scale = _scale(sd, channels)
    model = build(scale, channels, blocks)
    model.load_state_dict(sd, strict=True)
    return descriptor(arch, model, sd, scale=scale, channels=3, tags=[f"{channels}nf", f"{blocks}nb", *tags])


def _load_srresnet(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    return _load_unit_range(arch, sd, SRResNetUnitRange, ["tanh"])


def _load_seed(arch: Any, sd: dict[str, torch.Tensor]) -> Any:
    return _load_unit_range(arch, sd, lambda scale, channels, blocks: SeedGeneratorUnitRange(scale, blocks, channels),
                            ["per-channel PReLU", "tanh"])


def srresnet_architecture() -> Any:
    return architecture("srbench.SRResNet", "srbench SRResNet",
                        lambda sd: _detect(sd) and sd["head.1.weight"].numel() == 1, _load_srresnet)


def seed_architecture() -> Any:
    return architecture("srbench.SeedGenerator", "srbench seed generator",
                        lambda sd: _detect(sd) and sd["head.1.weight"].numel() > 1, _load_seed)
