"""Random-weight, small instances of the field's architectures, built with spandrel's own classes.

Shared by tests/models/test_file.py, tests/cli/test_models.py and tests/benchmarks (the file: adapter's
overhead).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn


def _esrgan() -> nn.Module:
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(num_filters=8, num_blocks=1, scale=4)


def _swinir() -> nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4, mlp_ratio=2.0, upscale=4,
                  upsampler="pixelshuffle", resi_connection="1conv")


def _edsr() -> nn.Module:
    from srbench.models.archs.detect import EDSR  # spandrel 0.4 has no EDSR: srbench's BasicSR-layout network

    return EDSR(num_feat=8, num_block=2, upscale=4)


def _rcan() -> nn.Module:
    from spandrel.architectures.RCAN import RCAN

    return RCAN(scale=4, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)


def _compact() -> nn.Module:
    from spandrel.architectures.Compact import Compact

    return Compact(num_feat=8, num_conv=2, upscale=4)


# name -> (constructor, spandrel/srbench architecture name, how the .pth is wrapped)
ARCHS: dict[str, tuple[Callable[[], nn.Module], str, str | None]] = {
    "esrgan": (_esrgan, "ESRGAN", "params_ema"),  # BasicSR's layout: {"params_ema": state_dict}
    "swinir": (_swinir, "SwinIR", None),
    "edsr": (_edsr, "EDSR (BasicSR)", "params"),
    "rcan": (_rcan, "RCAN", None),
    "compact": (_compact, "RealESRGAN Compact", None),
}


def make(name: str, seed: int = 0) -> nn.Module:
    """The random-weight network ``name`` in eval mode (weights perturbed so no layer is near-identity)."""
    torch.manual_seed(seed)
    net = ARCHS[name][0]().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return net


def save(net: nn.Module, path: Path, wrapper: str | None = None) -> Path:
    """``net``'s state dict as ``.safetensors`` or a torch file (wrapped under ``wrapper`` when given)."""
    sd = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save({wrapper: sd, "iter": 1000} if wrapper else sd, str(path))
    return path


def save_all(folder: Path) -> dict[str, Path]:
    """Every tiny architecture as .pth (BasicSR-wrapped where ARCHS says) and .safetensors, in ``folder``."""
    out: dict[str, Path] = {}
    for name, (_, _, wrapper) in ARCHS.items():
        net = make(name)
        out[f"{name}.pth"] = save(net, folder / f"{name}.pth", wrapper)
        out[f"{name}.safetensors"] = save(net, folder / f"{name}.safetensors")
    return out
