"""The SRGAN paper's losses: pixel MSE, VGG19 content loss (phi_2,2 / phi_5,4, rescaled by 1/12.75) and
the adversarial loss as a numerically stable BCE on logits.

VGG19 ImageNet weights (torchvision ``vgg19-dcbb9e9d.pth``) cannot be downloaded offline: they are looked
up at an explicit path or in the torch hub cache, and their absence is a clear error. ``"random"`` builds a
randomly initialised VGG19 of the same shape: same cost, meaningless loss; for tests and benchmarks only.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from srbench.interfaces import SRBenchError

VGG19_FILE = "vgg19-dcbb9e9d.pth"
# torchvision vgg19().features indices: phi_2,2 = after the ReLU of conv2_2 (features[:9]);
# phi_5,4 = after the ReLU of conv5_4, before the 5th max-pool (features[:36]).
VGG_LAYERS = {"vgg22": 9, "vgg54": 36}
VGG_RESCALE = 1.0 / 12.75
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsMissing(SRBenchError):
    """VGG19 ImageNet weights are needed for a VGG content loss and were not found."""


def vgg_weights_candidates() -> list[Path]:
    """Where ``vgg19-dcbb9e9d.pth`` is looked for: ``$TORCH_HOME/hub/checkpoints`` and torch's hub dir."""
    cands = []
    if os.environ.get("TORCH_HOME"):
        cands.append(Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / VGG19_FILE)
    cands.append(Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE)
    return list(dict.fromkeys(cands))


def find_vgg_weights(explicit: str | None) -> Path:
    """The VGG19 weights file to use, or VGGWeightsMissing saying where to put it."""
    if explicit:
        p = Path(explicit).expanduser()
        if p.is_file():
            return p
        raise VGGWeightsMissing(f"VGG19 weights file {p} (from --vgg-weights) does not exist")
    for p in vgg_weights_candidates():
        if p.is_file():
            return p
    where = " or ".join(str(p) for p in vgg_weights_candidates())
    raise VGGWeightsMissing(
        f"the VGG content loss needs the torchvision VGG19 ImageNet weights {VGG19_FILE} "
        f"(https://download.pytorch.org/models/{VGG19_FILE}, 548 MB), which are not available offline. "
        f"Put the file at {where}, or pass --vgg-weights PATH; or train with --content-loss mse (SRGAN-MSE)."
    )


class VGGContentLoss(nn.Module):
    """MSE between VGG19 feature maps of SR and HR (both in [-1, 1]), each map scaled by 1/12.75.

    The VGG is frozen (no parameter gradients), in eval mode; HR features are computed without a graph.
    """

    def __init__(self, layer: str = "vgg54", weights: str | None = None, *, seed: int = 0) -> None:
        super().__init__()
        if layer not in VGG_LAYERS:
            raise ValueError(f"VGG content layer must be one of {sorted(VGG_LAYERS)}, got {layer!r}")
        from torchvision.models import vgg19

        net = vgg19(weights=None)
        if weights == "random":
            # Same shape and cost as the real loss; the values mean nothing. Tests/benchmarks only.
            gen = torch.Generator().manual_seed(seed)
            for m in net.features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=gen)
                    nn.init.zeros_(m.bias)
            self.weights_path: str = "random"
        else:
            path = find_vgg_weights(weights)
            try:
                sd = torch.load(str(path), map_location="cpu", weights_only=True)
                net.load_state_dict(sd)
            except Exception as exc:
                raise VGGWeightsMissing(f"VGG19 weights {path}: cannot load as a torchvision vgg19 state_dict "
                                        f"({exc})") from exc
            self.weights_path = str(path)
        self.features = net.features[: VGG_LAYERS[layer]].eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.layer = layer
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        # [-1, 1] -> [0, 1] -> ImageNet-normalised, folded into one affine map: x * a + b
        self.register_buffer("a", 0.5 / std)
        self.register_buffer("b", (0.5 - mean) / std)

    def train(self, mode: bool = True) -> VGGContentLoss:  # the VGG stays in eval mode
        super().train(mode)
        self.features.eval()
        return self

    def _lowp_features(self, dtype: torch.dtype) -> nn.Module:
        """A copy of the frozen VGG with weights already in ``dtype`` (rebuilt if the weights change).

        Under autocast, frozen weights (requires_grad False) are not in autocast's cast cache, so every
        forward would re-cast all 20 M VGG parameters; the copy holds the same rounded values once.
        """
        params = list(self.features.parameters())
        key = (dtype, params[0].device, tuple(p._version for p in params), tuple(p.data_ptr() for p in params))
        cached = getattr(self, "_lowp_cache", None)
        if cached is None or cached[0] != key:
            import copy

            net = copy.deepcopy(self.features).to(dtype)
            for p in net.parameters():
                p.requires_grad_(False)
            object.__setattr__(self, "_lowp_cache", (key, net))  # not a registered submodule: not in state_dict
            cached = (key, net)
        return cached[1]

    def feats(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.addcmul(self.b, x, self.a)
        dev = x.device.type
        if torch.is_autocast_enabled(dev) and dev in ("cpu", "cuda"):
            dtype = torch.get_autocast_dtype(dev)
            net = self._lowp_features(dtype)
            with torch.autocast(dev, enabled=False):  # what autocast would run: the same ops in dtype
                return net(x.to(dtype)) * VGG_RESCALE
        return self.features(x) * VGG_RESCALE

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.feats(hr)
        return F.mse_loss(self.feats(sr), target)


def adversarial_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """BCE on logits (log-sum-exp form, stable for any logit); ``real=True`` gives -log D(x)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def pixel_mse(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """MSE on the paper's [-1, 1] scale."""
    return F.mse_loss(sr, hr)
