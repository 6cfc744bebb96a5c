"""srbench: faithful super-resolution benchmarking.

Importing srbench is cheap: no torch, no disk access. The public API is loaded lazily.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate", "load_results", "get_model", "list_models", "imresize", "metrics"]

_LAZY = {
    "evaluate": "srbench.evaluate:evaluate",
    "load_results": "srbench.rundir:load_results",
    "get_model": "srbench.registry:get_model",
    "list_models": "srbench.registry:list_models",
    "imresize": "srbench.data.imresize:imresize",  # MATLAB-exact bicubic resize (README, "Metric API")
    "metrics": "srbench.metrics:",  # psnr, ssim, niqe, lpips on NumPy, PIL and torch images
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name].split(":")
        loaded = importlib.import_module(module)
        return getattr(loaded, attr) if attr else loaded
    raise AttributeError(f"module 'srbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
