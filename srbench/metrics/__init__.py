"""Metrics: pure functions plus their typed metadata (the metric table, ``srbench.metrics.table``).

The public API (README, "Metric API"): ``psnr``, ``ssim``, ``niqe`` and ``lpips`` on NumPy arrays (HWC or
CHW, uint8 or float), PIL images and torch tensors (CHW or NCHW), with the protocol's options (``scale`` =
crop border, Y or RGB, ``data_range``); see :mod:`srbench.metrics.api`. They are loaded on first use, so
that reading the metric table imports no scipy.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from srbench.metrics.table import METRIC_TABLE

SPECS = METRIC_TABLE  # the name older code imports

__all__ = ["METRIC_TABLE", "SPECS", "lpips", "niqe", "psnr", "ssim"]

_LAZY = {"psnr": "srbench.metrics.api", "ssim": "srbench.metrics.api", "lpips": "srbench.metrics.api",
         "niqe": "srbench.metrics.api"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'srbench.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


class _MetricsPackage(types.ModuleType):
    """``srbench.metrics.niqe`` is both the public function and the submodule that implements it. Importing
    the submodule makes Python bind it as the package's attribute ``niqe``; this keeps the function there
    (``from srbench.metrics.niqe import ...`` still reads the submodule, through ``sys.modules``)."""

    @property
    def niqe(self) -> Any:
        from srbench.metrics.api import niqe  # deferred: the metric API imports scipy (fidelity)

        return niqe

    @niqe.setter
    def niqe(self, value: Any) -> None:
        pass  # the import system binding the submodule ``srbench.metrics.niqe``: the function stays


sys.modules[__name__].__class__ = _MetricsPackage
