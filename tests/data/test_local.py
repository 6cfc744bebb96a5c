"""`srbench datasets list` and `srbench doctor`: which catalogue datasets are here, and where."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from srbench.cli import cli
from srbench.data.local import data_roots, local_datasets


@pytest.fixture()
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A --data-dir with Set5 (2 images) and $SRBENCH_DATA_DIR with a verified Set14 (1 image)."""
    given, env = tmp_path / "given", tmp_path / "env"
    for root, folder, n in ((given, "Set5", 2), (env, "Set14", 1)):
        (root / folder / "HR").mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / folder / "HR" / f"im{i}.png")
    (env / "Set14" / ".verified").write_text("{}")
    monkeypatch.setenv("SRBENCH_DATA_DIR", str(env))
    return given, env


def test_local_datasets_in_resolution_order(roots) -> None:
    given, env = roots
    assert [label for label, _ in data_roots(given)] == ["--data-dir", "$SRBENCH_DATA_DIR"]  # cache = env
    found = local_datasets(given)
    assert found["set5"].hr_dir == given / "Set5" / "HR" and found["set5"].n_images == 2
    assert found["set5"].root == "--data-dir" and not found["set5"].verified
    assert found["set14"].root == "$SRBENCH_DATA_DIR" and found["set14"].verified
    assert found["b100"] is None
    assert local_datasets()["set5"] is None  # without --data-dir


def test_datasets_list_shows_where(roots) -> None:
    given, env = roots
    out = CliRunner().invoke(cli, ["datasets", "list", "--data-dir", str(given)])
    assert out.exit_code == 0, out.output
    line = {x.split()[0]: x for x in out.output.splitlines()}
    assert f"present: {given / 'Set5' / 'HR'} (2 images, not verified by fetch; --data-dir)" in line["set5"]
    assert "(1 images, verified; $SRBENCH_DATA_DIR)" in line["set14"]
    assert "not here" in line["b100"]
    assert f"data dir (--data-dir): {given}" in out.output and f"data dir ($SRBENCH_DATA_DIR): {env}" in out.output


def test_doctor_shows_the_data_folder(roots) -> None:
    _given, env = roots
    out = CliRunner().invoke(cli, ["doctor", "--json"])
    assert out.exit_code == 0, out.output
    entry = next(f for f in json.loads(out.output) if f["name"] == "Datasets folder")
    assert entry["present"] and entry["found"].startswith(str(env)) and "set14 (1 in" in entry["found"]
    assert any("$SRBENCH_DATA_DIR" in w for w in entry["where"])
