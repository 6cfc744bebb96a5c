"""Inference speed-ups that do not change results: BN folding, overlapping tiling, channels_last; and the
parameter count every adapter reports.

Shared by the adapters and the throughput pass. Every function returns new objects or works on a copy;
none mutates the module it is given.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def count_params(module: nn.Module) -> int:
    """Number of parameters (BN running statistics are buffers and are not counted)."""
    return int(sum(p.numel() for p in module.parameters()))


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """A copy of ``module`` in eval mode with every ``Conv2d`` directly followed by a ``BatchNorm2d``
    (inside the same ``nn.Sequential``) replaced by one convolution with the BN folded in.

    Eval-mode BN is an affine map per channel, ``y = (x - mean) / sqrt(var + eps) * gamma + beta``, so it
    folds exactly into the preceding convolution's weights and bias; outputs agree with the unfolded
    eval-mode network up to float rounding (about 1e-6). The folded BN becomes ``nn.Identity``.
    """
    folded = copy.deepcopy(module).eval()
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:], strict=False):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = nn.Identity()
    return folded


def prepare_for_inference(module: nn.Module, device: str | torch.device = "cpu", *, channels_last: bool = True,
                          fold_bn: bool = True) -> nn.Module:
    """Eval mode, BN folded (optional), moved to ``device``, gradients off, and channels_last memory
    format (NHWC: oneDNN on CPUs and cuDNN's tensor-core kernels prefer it for 3x3 convolutions)."""
    out = fold_batchnorm(module) if fold_bn else copy.deepcopy(module).eval()
    out = out.to(device)
    if channels_last:
        out = out.to(memory_format=torch.channels_last)
    for p in out.parameters():
        p.requires_grad_(False)
    return out


def tiled_forward(fn: Callable[[torch.Tensor], torch.Tensor], lr: torch.Tensor, scale: int, tile: int,
                  overlap: int) -> torch.Tensor:
    """Run ``fn`` (NCHW LR -> NCHW SR, ``scale`` times larger) on overlapping tiles of ``lr`` and stitch.

    The LR image is cut into ``tile`` x ``tile`` cores; each is run with ``overlap`` extra LR pixels of
    context on every side (clipped at the image border, where the network's own zero padding then
    applies exactly as untiled), and only the core's output is kept. When ``overlap`` is at least the
    network's receptive radius (``SRResNet.receptive_radius``) every kept output pixel sees exactly the
    input it sees untiled, so the result equals the untiled one up to float rounding.
    Memory is bounded by the tile, not the image: this is for images too large to run whole.
    """
    if tile <= 0:
        raise ValueError(f"tile must be a positive number of LR pixels, got {tile}")
    if overlap < 0:
        raise ValueError(f"tile overlap must be >= 0 LR pixels, got {overlap}")
    if lr.ndim != 4:
        raise ValueError(f"expected an NCHW tensor, got shape {tuple(lr.shape)}")
    n, _, h, w = lr.shape
    if h <= tile and w <= tile:
        return fn(lr)
    out: torch.Tensor | None = None
    for y0 in range(0, h, tile):
        y1 = min(y0 + tile, h)
        ya, yb = max(0, y0 - overlap), min(h, y1 + overlap)
        for x0 in range(0, w, tile):
            x1 = min(x0 + tile, w)
            xa, xb = max(0, x0 - overlap), min(w, x1 + overlap)
            sr = fn(lr[:, :, ya:yb, xa:xb])
            if out is None:
                out = sr.new_empty((n, sr.shape[1], h * scale, w * scale))
            oy, ox = (y0 - ya) * scale, (x0 - xa) * scale
            out[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                sr[:, :, oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
    assert out is not None  # internal invariant: at least one tile ran
    return out
