"""NIQE cost against PSNR+SSIM on the same images, in the same run.

Run with ``pytest tests/benchmarks/test_bench_niqe.py --benchmark-enable``. Group "niqe-set14": the 14
bicubic x4 outputs of Set14 (srbench's MATLAB bicubic), scored through ``evaluate.score`` as a run scores
them (uint8 (C, H, W), crop = 4, MATLAB Y): once for NIQE alone, once for PSNR+SSIM. Target (issue 12):
NIQE under 2x the time of PSNR+SSIM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srbench.data.imresize import bicubic_lr, imresize, modcrop
from srbench.data.io import list_images, read_image
from srbench.evaluate import score

SCALE = 4


@pytest.fixture(scope="module")
def set14_sr(shared_datasets: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(sr (C, H, W), hr HWC) uint8: bicubic x4 outputs of Set14 and their modcropped HR."""
    out = []
    for path in list_images(shared_datasets / "Set14" / "HR"):
        hr = np.ascontiguousarray(modcrop(read_image(path), SCALE))
        out.append((np.ascontiguousarray(imresize(bicubic_lr(hr, SCALE), SCALE).transpose(2, 0, 1)), hr))
    return out


def _score(pairs: list[tuple[np.ndarray, np.ndarray]], metrics: tuple[str, ...]) -> list[dict[str, float]]:
    return [score(sr, hr, SCALE, metrics, "y", None) for sr, hr in pairs]


def test_niqe_values_are_sane(set14_sr: list[tuple[np.ndarray, np.ndarray]]) -> None:
    values = [v["niqe"] for v in _score(set14_sr, ("niqe",))]
    assert len(values) == 14 and all(np.isfinite(values)) and 3 < float(np.mean(values)) < 12


@pytest.mark.benchmark(group="niqe-set14")
def test_bench_niqe_set14(benchmark, set14_sr) -> None:  # type: ignore[no-untyped-def]
    benchmark(_score, set14_sr, ("niqe",))


@pytest.mark.benchmark(group="niqe-set14")
def test_bench_psnr_ssim_set14(benchmark, set14_sr) -> None:  # type: ignore[no-untyped-def]
    benchmark(_score, set14_sr, ("psnr", "ssim"))
