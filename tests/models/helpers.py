"""Plain helpers of the model tests (tiny spandrel networks: tiny_nets.py)."""

from __future__ import annotations

import numpy as np

from srbench.models.keras import convert


def random_keras_layers(scale: int, n_blocks: int, seed: int = 0) -> convert.KerasLayers:
    rng = np.random.default_rng(seed)
    layers = []
    kinds = convert._torch_prefixes(scale, n_blocks)
    for (kind, _), name in zip(kinds, convert.keras_layer_names(scale, n_blocks), strict=True):
        shapes = convert._keras_shapes(kind, name)
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        if kind == "bn":
            arrays[3] = np.abs(arrays[3]) + 0.5  # variances are positive
        layers.append((f"seed_{name}", arrays))  # foreign names: matching is by order
    return layers
