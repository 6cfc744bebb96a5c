"""Metrics: pure functions plus their typed metadata (the metric table, ``srbench.metrics.table``).

``psnr`` and ``ssim`` are loaded on first use, so that reading the metric table imports no scipy.
"""

from __future__ import annotations

from typing import Any

from srbench.metrics.table import METRIC_TABLE

SPECS = METRIC_TABLE  # the name older code imports

__all__ = ["METRIC_TABLE", "SPECS", "niqe", "psnr", "ssim"]

_LAZY = {"psnr": "srbench.metrics.fidelity", "ssim": "srbench.metrics.fidelity", "niqe": "srbench.metrics.niqe"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'srbench.metrics' has no attribute {name!r}")
