"""Fixtures of the report tests: small real runs computed from images (see fakerun.py).

``image_run`` (shared with tests/cli/test_report.py) is in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.librun import small_library_run
from tests.report.realrun import bicubic_set5_set14_x4


@pytest.fixture(scope="session")
def real_run(shared_datasets: Path) -> Path:
    """A real `srbench run`: bicubic on Set5 and Set14 x4, PSNR/SSIM (see realrun.py)."""
    return bicubic_set5_set14_x4(shared_datasets)


@pytest.fixture(scope="session")
def library_run() -> Path:
    """bicubic + srresnet x4 on a small folder: dataset through ``srbench.evaluate.evaluate``, NIQE, no
    LPIPS, throughput at 32x32 (see librun.py; about a minute on two cores)."""
    return small_library_run()
