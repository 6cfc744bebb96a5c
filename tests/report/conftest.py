"""Fixtures of the report tests: small real runs computed from images (see fakerun.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shared_datasets_dir
from tests.report.fakerun import load_hr, make_image_run

XSS = "<script>alert(1)</script>"


def hr_images(side: int = 200) -> dict:
    """Set5 (first 3 images, central side x side crops: keeps the tests quick) from ../shared/datasets when
    present, else synthetic images."""
    d = shared_datasets_dir()
    out = {}
    for name, img in load_hr(d / "Set5" / "HR" if d else None, limit=3).items():
        y, x = max(0, (img.shape[0] - side) // 2), max(0, (img.shape[1] - side) // 2)
        out[name] = img[y : y + side, x : x + side]
    return {"set5": out}


@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run: bicubic, nearest and a blurred bicubic named like a script tag; throughput too."""
    root = tmp_path_factory.mktemp("run") / "20261126-001500-test"
    return make_image_run(root, hr_images(), models={"bicubic": "bicubic", "nearest": "nearest", XSS: "blurred"})


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """A real `srbench run` (library call): bicubic on Set5 x4, PSNR/SSIM, 2 comparison images."""
    from srbench.evaluate import RunConfig, evaluate

    out = tmp_path_factory.mktemp("real") / "bicubic-set5"
    config = RunConfig(models=("bicubic",), datasets=("set5",), scales=(4,), metrics=("psnr", "ssim"),
                       data_dir=str(shared_datasets), throughput=False)
    outcome = evaluate(config, out, progress=False, log=lambda msg: None)
    assert outcome.ok, outcome.errors
    return out
