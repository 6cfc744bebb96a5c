"""Fixtures shared by the CLI tests (one file per srbench command in this folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    import skimage.data

    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(skimage.data.chelsea()[:64, :72]).save(d / "cat.png")
    return d
