"""Training of the SRGAN paper's models: the only place in srbench with optimisers and losses.

Public entry points (loaded lazily, so importing this package does not import torch):
``train(config) -> Path``, ``load_config(path_or_none, overrides) -> TrainConfig``, ``TrainConfig``.
Command line: ``srbench train MODEL ...`` or ``python -m srbench.training MODEL ...`` (also under torchrun).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainConfig", "load_config", "train", "export_generator"]

_LAZY = {
    "TrainConfig": "srbench.training.config:TrainConfig",
    "load_config": "srbench.training.config:load_config",
    "train": "srbench.training.loop:train",
    "export_generator": "srbench.training.checkpoints:export_generator",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name].split(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'srbench.training' has no attribute {name!r}")
