"""srbench's MATLAB imresize against PIL's BICUBIC on the same images, in the same run.

Run with ``pytest tests/benchmarks/test_bench_imresize.py --benchmark-enable``; each group holds the
two peers, compare their means (target: srbench no slower than 3x PIL). PIL is not MATLAB-exact (a
different antialiasing filter support, fixed-point arithmetic); it is the speed yardstick only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench.data.imresize import bicubic_lr, imresize, modcrop
from srbench.data.io import read_image
from tests.benchmarks.helpers import timed

SET5 = ("baby", "bird", "butterfly", "head", "woman")
PEERS = ("srbench", "pil")


def _pil_resize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((out_w, out_h), Image.BICUBIC))


@pytest.fixture(scope="module")
def set5_hr(shared_datasets: Path) -> list[np.ndarray]:
    return [
        np.ascontiguousarray(modcrop(read_image(shared_datasets / "Set5" / "HR" / f"{n}.png"), 4))
        for n in SET5
    ]


@pytest.fixture(scope="module")
def big_image() -> np.ndarray:
    """A 2040x1356 RGB image (DIV2K size); resize cost does not depend on content."""
    return np.random.default_rng(0).integers(0, 256, size=(1356, 2040, 3), dtype=np.uint8)


def _warm() -> None:
    imresize(np.zeros((8, 8, 3), np.uint8), 0.5)  # numba's load/compile is not part of the timing


@pytest.mark.benchmark(group="imresize: Set5 HR -> x4 LR")
@pytest.mark.parametrize("peer", PEERS)
def test_bench_set5_downscale_x4(benchmark: Callable, set5_hr: list[np.ndarray], peer: str) -> None:
    _warm()
    if peer == "srbench":
        out, _ = timed(benchmark, lambda: [bicubic_lr(hr, 4) for hr in set5_hr])
    else:
        out, _ = timed(benchmark,
                       lambda: [_pil_resize(hr, hr.shape[0] // 4, hr.shape[1] // 4) for hr in set5_hr])
    assert [o.shape for o in out] == [(h.shape[0] // 4, h.shape[1] // 4, 3) for h in set5_hr]


@pytest.mark.benchmark(group="imresize: Set5 x4 LR -> x4 upscale")
@pytest.mark.parametrize("peer", PEERS)
def test_bench_set5_upscale_x4(benchmark: Callable, set5_hr: list[np.ndarray], peer: str) -> None:
    _warm()
    lrs = [bicubic_lr(hr, 4) for hr in set5_hr]
    if peer == "srbench":
        out, _ = timed(benchmark, lambda: [imresize(lr, 4) for lr in lrs])
    else:
        out, _ = timed(benchmark, lambda: [_pil_resize(lr, lr.shape[0] * 4, lr.shape[1] * 4) for lr in lrs])
    assert [o.shape for o in out] == [h.shape for h in set5_hr]


@pytest.mark.benchmark(group="imresize: 2040x1356 -> x4 LR")
@pytest.mark.parametrize("peer", PEERS)
def test_bench_big_downscale_x4(benchmark: Callable, big_image: np.ndarray, peer: str) -> None:
    _warm()
    if peer == "srbench":
        out, _ = timed(benchmark, bicubic_lr, big_image, 4)
    else:
        out, _ = timed(benchmark, _pil_resize, big_image, 339, 510)
    assert out.shape == (339, 510, 3)


@pytest.mark.benchmark(group="imresize: 510x339 -> x4 upscale")
@pytest.mark.parametrize("peer", PEERS)
def test_bench_big_upscale_x4(benchmark: Callable, big_image: np.ndarray, peer: str) -> None:
    _warm()
    lr = bicubic_lr(big_image, 4)
    if peer == "srbench":
        out, _ = timed(benchmark, imresize, lr, 4)
    else:
        out, _ = timed(benchmark, _pil_resize, lr, 1356, 2040)
    assert out.shape == (1356, 2040, 3)
