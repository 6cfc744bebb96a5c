"""Fixtures shared across the test packages. Tests that need the shared benchmark images
($SRBENCH_SHARED_DATASETS) skip cleanly without them. Plain helpers are in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import shared_datasets_dir

try:  # triton imported after TensorFlow segfaults (TF 2.21 + torch 2.14's triton): load it first, so test
    import triton  # noqa: F401  # order cannot matter (tests/benchmarks import TensorFlow directly)
except Exception:
    pass


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The benchmark-layout folder with Set5/Set14/B100 (env SRBENCH_SHARED_DATASETS)."""
    d = shared_datasets_dir()
    if d is None:
        pytest.skip("benchmark images not found (set SRBENCH_SHARED_DATASETS to run this test)")
    return d


@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run: bicubic, nearest and a blurred bicubic named like a script tag; throughput too.

    (tests/report and tests/cli/test_report.py; see tests/report/fakerun.py)"""
    from tests.report.fakerun import make_image_run
    from tests.report.helpers import XSS, hr_images

    root = tmp_path_factory.mktemp("run") / "20261126-001500-test"
    models = {"bicubic": "bicubic", "nearest": "nearest", XSS: "blurred"}
    return make_image_run(root, hr_images(), models=models)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A few smooth colour images to train on (tests/training and tests/cli/test_train.py)."""
    from tests.training.helpers import make_images

    root = tmp_path_factory.mktemp("tiny")
    return {"train": make_images(root / "train", 4, 64, 0), "val": make_images(root / "val", 2, 48, 1)}
