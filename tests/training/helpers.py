"""Helpers of the training tests: a few smooth 64x64 colour images made by the tests themselves, and the tiny
config overrides (the ``tiny_data`` fixture built from them is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from srbench.data.io import write_image


def make_images(folder: Path, n: int, size: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        noise = rng.random((size, size, 3))
        img = gaussian_filter(noise, sigma=(2, 2, 0)) * 3.0 - 1.0  # smooth texture
        img = np.clip(img * 0.5 + 0.5, 0, 1)
        write_image(folder / f"img{i}.png", np.round(img * 255).astype(np.uint8))
    return folder


def tiny_overrides(tiny: dict[str, Path], out: Path, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        model="srresnet", scale=4, train_data=[str(tiny["train"])], val_data="none", crop=32, batch=4,
        steps=6,
        lr=1e-4, workers=0, ckpt_every=3, log_every=1, tensorboard=False, progress=False, threads=1,
        out_dir=str(out), seed=0,
    )
    base.update(extra)
    return base
