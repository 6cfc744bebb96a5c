"""`srbench datasets list` and `srbench datasets export` through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from srbench.cli import cli


def test_datasets_list() -> None:
    r = CliRunner().invoke(cli, ["datasets", "list"])
    assert r.exit_code == 0 and "samples" in r.output and "set14" in r.output


def test_datasets_export_writes_the_benchmark_layout(folder: Path, tmp_path: Path) -> None:
    from srbench.data.imresize import bicubic_lr
    from srbench.data.io import read_image

    out = tmp_path / "exp"
    r = CliRunner().invoke(cli, ["datasets", "export", f"folder:{folder}", "--scale", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    hr = read_image(out / "HR" / "cat.png")
    lr = read_image(out / "LR_bicubic" / "X3" / "catx3.png")
    assert hr.shape == (63, 72, 3) and lr.shape == (21, 24, 3)
    assert np.array_equal(lr, bicubic_lr(read_image(folder / "cat.png"), 3))
