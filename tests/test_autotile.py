"""Automatic tiling (issue 23 item 13): an image whose activations would exceed --max-memory is run in
overlapping tiles, with the output of the untiled run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from srbench.cli import _bytes
from srbench.config import RunConfig
from srbench.evaluate import evaluate
from srbench.rundir import load_results


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(5)
    img = np.kron(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8), np.ones((8, 8, 1), dtype=np.uint8))
    Image.fromarray(img).save(d / "big.png")  # 192x160 HR: 48x40 LR at x4
    return d


def test_an_image_over_the_memory_limit_is_tiled_and_scores_the_same(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    base = dict(models=("srresnet",), datasets=(f"folder:{d}",), metrics=("psnr", "ssim"), throughput=False)
    whole = evaluate(RunConfig(**base, max_memory=0), tmp_path / "whole", progress=False, log=lambda _m: None)
    # 48x40 LR x ~4.9 KB/px for SRResNet x4 is ~9 MB: a 4 MB limit makes 32x32 tiles (the minimum side)
    tiled = evaluate(RunConfig(**base, max_memory=4 * 2**20), tmp_path / "tiled", progress=False,
                     log=lambda _m: None)
    assert whole.ok and tiled.ok
    assert not [w for w in whole.warnings if "tiles" in w]
    assert [w for w in tiled.warnings if "run in 32x32 LR tiles to stay under --max-memory" in w]
    a = load_results(tmp_path / "whole").set_index("metric")["value"]
    b = load_results(tmp_path / "tiled").set_index("metric")["value"]
    assert b["psnr"] == pytest.approx(a["psnr"], abs=1e-3) and b["ssim"] == pytest.approx(a["ssim"], abs=1e-5)


def test_max_memory_sizes_and_config() -> None:
    assert _bytes("8G") == 8 * 2**30 and _bytes("512M") == 512 * 2**20 and _bytes("0") == 0 and _bytes("1000") == 1000
    assert _bytes("2GiB") == 2 * 2**30
    with pytest.raises(Exception, match="not a size"):
        _bytes("lots")
    assert RunConfig(max_memory=0).memory_limit is None and RunConfig(max_memory=100).memory_limit == 100
    limit = RunConfig().memory_limit
    assert limit is None or limit > 0  # half the free memory by default
    with pytest.raises(ValueError, match="max_memory"):
        RunConfig(max_memory=-1)
    from srbench.cli import cli

    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "--max-memory", "lots", "--no-progress"])
    assert r.exit_code == 2 and "--max-memory" in r.output
