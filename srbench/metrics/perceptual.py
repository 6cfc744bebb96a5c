"""LPIPS through the ``lpips`` package (Zhang et al. 2018), v0.1, AlexNet backbone by default.

The wheel ships only the linear heads; the backbone's ImageNet weights come from torchvision and are
looked up (never downloaded behind the user's back) in the torch hub cache or at a configured path.
When they are absent the metric is *unavailable* with a reason that says how to fix it, and the harness
goes on with PSNR/SSIM.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench.files import file_sha256
from srbench.metrics.fidelity import to_chw255

if TYPE_CHECKING:
    import torch

BACKBONE_FILES = {
    "alex": ("alexnet-owt-7be5be79.pth", "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02"),
    "vgg": ("vgg16-397923af.pth", None),
}
ENV_WEIGHTS = "SRBENCH_LPIPS_BACKBONE"  # path to the backbone .pth when it is not in the hub cache


class LPIPSUnavailable(RuntimeError):
    """LPIPS cannot run here; ``str(exc)`` is the user-facing reason and fix."""


@dataclass(frozen=True)
class LPIPSInfo:
    """What run.json's protocol records about the LPIPS network that computed a run's values."""

    net: str
    version: str
    backbone: str  # path of the backbone weights, or "random (tests only)"
    backbone_sha256: str | None
    package_version: str | None = None  # the installed ``lpips`` package
    head: str | None = None  # the linear heads shipped in the lpips wheel (weights/v0.1/<net>.pth)
    head_sha256: str | None = None


def lpips_package_version() -> str | None:
    """The installed lpips package's version (from its metadata: nothing is imported), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lpips")
    except PackageNotFoundError:
        return None


def backbone_candidates(net: str, path: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where the ``net`` backbone weights are looked for, in order: ``path`` (--lpips-weights) or
    $SRBENCH_LPIPS_BACKBONE when given (then only there), else the torch hub cache."""
    configured = path or os.environ.get(ENV_WEIGHTS)
    if configured:
        return [Path(configured)]
    return [hub_checkpoint_dir() / BACKBONE_FILES[net][0]]


def hub_checkpoint_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def find_backbone(net: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Locate the ImageNet backbone weights for ``net``; raise LPIPSUnavailable saying how to fix it."""
    if net not in BACKBONE_FILES:
        raise ValueError(f"LPIPS net must be one of {sorted(BACKBONE_FILES)}, got {net!r}")
    filename, _ = BACKBONE_FILES[net]
    configured = path or os.environ.get(ENV_WEIGHTS)
    if configured:
        p = Path(configured)
        if p.is_file():
            return p
        raise LPIPSUnavailable(f"LPIPS unavailable: backbone weights {p} not found "
                               f"(from --lpips-weights/{ENV_WEIGHTS})")
    cached = hub_checkpoint_dir() / filename
    if cached.is_file():
        return cached
    raise LPIPSUnavailable(
        f"LPIPS unavailable: the {net} ImageNet backbone weights ({filename}) are not in the torch hub cache "
        f"({cached.parent}). Download them once (torchvision does it on first use with internet: "
        f"`python -c \"import torchvision; torchvision.models.alexnet(weights='IMAGENET1K_V1')\"`), copy the "
        f"file there, or pass --lpips-weights PATH / set {ENV_WEIGHTS}."
    )


class LPIPSMetric:
    """A loaded LPIPS network. ``backbone='random'`` builds an untrained backbone: plumbing tests only."""

    def __init__(
        self,
        net: str = "alex",
        *,
        backbone: str | os.PathLike[str] | None = None,
        device: str = "cpu",
    ) -> None:
        import warnings

        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import lpips
            import torchvision

            if str(backbone) == "random":
                weights_path, digest = None, None
            else:
                weights_path = find_backbone(net, backbone)
                digest = file_sha256(weights_path)
            self.model = lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False)
            if weights_path is not None:
                tv = torchvision.models.alexnet() if net == "alex" else torchvision.models.vgg16()
                try:
                    state = torch.load(weights_path, map_location="cpu", weights_only=True)
                    tv.load_state_dict(state)
                except Exception as exc:
                    raise LPIPSUnavailable(f"LPIPS unavailable: cannot load backbone {weights_path}: {exc}") from exc
                features = tv.features
                for slice_ in (self.model.net.slice1, self.model.net.slice2, self.model.net.slice3,
                               self.model.net.slice4, self.model.net.slice5):
                    for name, module in slice_.named_children():
                        module.load_state_dict(features[int(name)].state_dict())
        self.model.eval().requires_grad_(False).to(device)
        self.device = device
        head = Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / f"{net}.pth"
        self.info = LPIPSInfo(
            net=net,
            version="0.1",
            backbone=str(weights_path) if weights_path else "random (tests only)",
            backbone_sha256=digest,
            package_version=lpips_package_version(),
            head=str(head) if head.is_file() else None,
            head_sha256=file_sha256(head) if head.is_file() else None,
        )

    def __call__(self, sr: Any, hr: Any, *, crop_border: int = 0) -> float:
        """LPIPS distance (lower is better) of (sr, hr) in [0, 1]; inputs go to the net in [-1, 1].

        Argument order matters (LPIPS is not symmetric): always (sr, hr).
        """
        import torch

        a, b = to_chw255(sr, "sr"), to_chw255(hr, "hr")
        if a.shape != b.shape:
            raise ValueError(f"sr and hr shapes differ: {a.shape} vs {b.shape}")
        if crop_border:
            c = crop_border
            a, b = a[:, c:-c, c:-c], b[:, c:-c, c:-c]
        ta = _to_pm1(torch, a, self.device)
        tb = _to_pm1(torch, b, self.device)
        with torch.inference_mode():
            return float(self.model(ta, tb).item())


def _to_pm1(torch: Any, chw255: Any, device: str) -> torch.Tensor:
    t = torch.from_numpy(chw255 / 127.5 - 1.0).float()
    if t.shape[0] == 1:  # grayscale: the backbone expects RGB
        t = t.expand(3, -1, -1)
    return t.unsqueeze(0).to(device)
