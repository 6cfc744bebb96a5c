"""Contract checks every adapter must pass; importable so that plugin authors can run them too.

    from srbench.contract import check_adapter
    assert check_adapter(my_model) == []
"""

from __future__ import annotations

from typing import Any

from srbench.interfaces import ModelInfo, SRModel


def check_adapter(model: Any, *, size: tuple[int, int] = (17, 23), seed: int = 0) -> list[str]:
    """Problems found with ``model`` (empty when it honours the SRModel contract).

    Checks: the protocol's attributes; float32 RGB NCHW output of shape (N, 3, h*s, w*s) on the model's
    device for N = 1 and 2 and an odd-sized input; finite values, roughly within [0, 1]; deterministic;
    batch items independent; ``info()`` returns ModelInfo.
    """
    import torch

    problems: list[str] = []
    if not isinstance(model, SRModel):
        return [f"{type(model).__name__} does not implement SRModel (name, scale, device, upscale, info)"]
    s = model.scale
    if not isinstance(s, int) or s < 1:
        problems.append(f"scale must be a positive int, got {s!r}")
        return problems
    if not isinstance(model.info(), ModelInfo):
        problems.append("info() must return srbench.interfaces.ModelInfo")
    g = torch.Generator().manual_seed(seed)
    h, w = size
    x = torch.rand(2, 3, h, w, generator=g).to(model.device)
    with torch.inference_mode():
        y1 = model.upscale(x[:1])
        y2 = model.upscale(x[:1])
        yb = model.upscale(x)
    want = (1, 3, h * s, w * s)
    if not isinstance(y1, torch.Tensor):
        return [*problems, f"upscale returned {type(y1).__name__}, expected a torch.Tensor"]
    if tuple(y1.shape) != want:
        problems.append(f"output shape {tuple(y1.shape)}, expected {want}")
        return problems
    if y1.dtype != torch.float32:
        problems.append(f"output dtype {y1.dtype}, expected torch.float32")
    if str(y1.device).split(":")[0] != str(model.device).split(":")[0]:
        problems.append(f"output on {y1.device}, expected the model's device {model.device}")
    if not torch.isfinite(y1).all():
        problems.append("output has NaN or infinite values")
    elif y1.min() < -0.5 or y1.max() > 1.5:
        problems.append(f"output range [{float(y1.min()):.3f}, {float(y1.max()):.3f}] is far outside [0, 1]")
    if not torch.equal(y1, y2):
        problems.append("not deterministic: two calls on the same input differ")
    if tuple(yb.shape) != (2, 3, h * s, w * s):
        problems.append(f"batch of 2 gave shape {tuple(yb.shape)}")
    elif (yb[:1] - y1).abs().max() > 1e-4:
        problems.append("batch items are not independent (first item differs from the single-image call)")
    return problems
