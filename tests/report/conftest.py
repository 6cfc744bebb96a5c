"""Fixtures of the report tests: small real runs computed from images (see fakerun.py).

``image_run`` (shared with tests/cli/test_report.py) is in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.realrun import bicubic_set5_set14_x4


@pytest.fixture(scope="session")
def real_run(shared_datasets: Path) -> Path:
    """A real `srbench run`: bicubic on Set5 and Set14 x4, PSNR/SSIM (see realrun.py)."""
    return bicubic_set5_set14_x4(shared_datasets)
