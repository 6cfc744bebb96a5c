"""Fixtures shared by the benchmark modules: the Set14 images of the metric and NIQE benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks.helpers import SCALE


@pytest.fixture(scope="module")
def set14_pairs(shared_datasets: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(sr, hr) uint8 HWC pairs: bicubic x4 outputs of Set14 and their modcropped HR."""
    from srbench.data.imresize import bicubic_lr, imresize, modcrop
    from srbench.data.io import list_images, read_image

    pairs = []
    for path in list_images(shared_datasets / "Set14" / "HR"):
        hr = np.ascontiguousarray(modcrop(read_image(path), SCALE))
        pairs.append((imresize(bicubic_lr(hr, SCALE), SCALE), hr))
    return pairs
