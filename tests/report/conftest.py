"""Fixtures of the report tests: small real runs computed from images (see fakerun.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shared_datasets_dir
from tests.report.fakerun import load_hr, make_image_run
from tests.report.realrun import bicubic_set5_set14_x4

XSS = "<script>alert(1)</script>"


def hr_images(side: int = 200) -> dict:
    """Set5 (first 3 images, central side x side crops: keeps the tests quick) from $SRBENCH_SHARED_DATASETS when
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
def real_run(shared_datasets: Path) -> Path:
    """A real `srbench run`: bicubic on Set5 and Set14 x4, PSNR/SSIM (see realrun.py)."""
    return bicubic_set5_set14_x4(shared_datasets)
