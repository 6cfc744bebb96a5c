"""The adapter protocol's input check, shared by every adapter (one copy)."""

from __future__ import annotations

from typing import Any


def check_lr(name: str, lr: Any, *, finite: bool = False) -> None:
    """Raise ValueError naming model ``name`` unless ``lr`` is a non-empty float32 RGB NCHW tensor.

    ``finite=True`` also refuses NaN/inf (adapters whose backend would silently turn them into numbers).
    """
    import torch  # deferred: the check is shared by adapters that import no torch themselves

    if not isinstance(lr, torch.Tensor):
        raise ValueError(f"{name}: expected a float32 RGB NCHW torch.Tensor (N, 3, h, w), got {type(lr).__name__}")
    if lr.ndim != 4 or lr.shape[1] != 3 or 0 in lr.shape:
        raise ValueError(f"{name}: expected a non-empty float32 RGB NCHW tensor (N, 3, h, w), got {tuple(lr.shape)}")
    if lr.dtype != torch.float32:
        raise ValueError(f"{name}: expected float32 input in [0, 1], got {lr.dtype}")
    if finite and not bool(torch.isfinite(lr).all()):
        raise ValueError(f"{name}: the input contains NaN or infinite values")
