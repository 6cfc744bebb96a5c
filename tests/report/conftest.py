"""Fixtures of the report tests: small real runs computed from images (see fakerun.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.fakerun import make_image_run
from tests.report.helpers import XSS, hr_images
from tests.report.realrun import bicubic_set5_set14_x4


@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run: bicubic, nearest and a blurred bicubic named like a script tag; throughput too."""
    root = tmp_path_factory.mktemp("run") / "20261126-001500-test"
    return make_image_run(root, hr_images(), models={"bicubic": "bicubic", "nearest": "nearest", XSS: "blurred"})


@pytest.fixture(scope="session")
def real_run(shared_datasets: Path) -> Path:
    """A real `srbench run`: bicubic on Set5 and Set14 x4, PSNR/SSIM (see realrun.py)."""
    return bicubic_set5_set14_x4(shared_datasets)
