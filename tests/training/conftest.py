"""Fixtures of the training tests: tiny training data made by the tests themselves (see helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.helpers import make_images


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {"train": make_images(root / "train", 4, 64, 0), "val": make_images(root / "val", 2, 48, 1)}
