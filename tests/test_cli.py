"""The CLI: click's CliRunner for behaviour, a real subprocess for the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from srbench.cli import cli


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    import skimage.data

    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(skimage.data.chelsea()[:64, :72]).save(d / "cat.png")
    return d


def test_run_writes_a_run_directory_and_prints_a_summary(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "-d", f"folder:{folder}", "-s", "2,4", "--no-throughput",
                                 "--metrics", "psnr,ssim", "--no-progress", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "psnr" in r.output and "bicubic" in r.output
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["scales"] == [2, 4]
    assert run["command"].startswith("srbench")


def test_unknown_model_fails_with_suggestion_and_exit_1(folder: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["run", "-m", "bicubc", "-d", f"folder:{folder}", "--no-throughput",
                                 "--metrics", "psnr", "--no-progress", "-o", str(tmp_path / "r")])
    assert r.exit_code == 1
    assert "Did you mean 'bicubic'" in r.output


def test_resume_reuses_the_config(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "-m", "bicubic", "-d", f"folder:{folder}", "--no-throughput", "--metrics", "psnr", "--no-progress"]
    assert CliRunner().invoke(cli, [*args, "-o", str(out)]).exit_code == 0
    r = CliRunner().invoke(cli, ["run", "--resume", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert len((out / "results.csv").read_text().splitlines()) == 2
    r = CliRunner().invoke(cli, [*args, "-o", str(out)])
    assert r.exit_code == 2 and "--resume" in r.output


def test_config_file_with_unknown_key_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('models = ["bicubic"]\nscale = 4\n')
    r = CliRunner().invoke(cli, ["run", "--config", str(cfg)])
    assert r.exit_code == 2 and "unknown config keys: ['scale']" in r.output


def test_models_and_datasets_list() -> None:
    r = CliRunner().invoke(cli, ["models", "list"])
    assert r.exit_code == 0 and "bicubic" in r.output and "srgan" in r.output
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


def test_console_script_is_real_and_imports_no_torch() -> None:
    exe = Path(sys.executable).with_name("srbench")
    p = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "run" in p.stdout and "datasets" in p.stdout
    # --help is instant because nothing heavy is imported at start-up:
    p = subprocess.run([sys.executable, "-c", "import srbench, sys; print('torch' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "False"
