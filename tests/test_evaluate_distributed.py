"""`srbench run` under torch.distributed: 2 gloo processes equal one process, row for row."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench.evaluate import RunConfig, evaluate


def _folder(root: Path) -> Path:
    import skimage.data

    d = root / "imgs"
    d.mkdir()
    photo = skimage.data.coffee()
    for i, (y, x, h, w) in enumerate([(0, 0, 48, 40), (50, 60, 36, 52), (100, 10, 44, 44), (20, 200, 40, 60),
                                      (150, 150, 32, 36)]):
        crop = photo[y : y + h, x : x + w]
        Image.fromarray(crop[:, :, 1] if i == 2 else crop).save(d / f"im{i}.png")  # im2 is grayscale
    (d / "im5.png").write_bytes(b"broken")  # an error must be gathered too
    return d


def _config(folder: Path) -> RunConfig:
    return RunConfig(models=("bicubic",), datasets=(f"folder:{folder}",), scales=(2, 3), throughput=False,
                     metrics=("psnr", "ssim"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, folder: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    import torch

    torch.set_num_threads(1)
    evaluate(_config(Path(folder)), out, progress=False)


def test_two_gloo_ranks_write_the_single_process_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.multiprocessing as mp

    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    folder = _folder(tmp_path)
    single = evaluate(_config(folder), tmp_path / "single", progress=False)
    mp.spawn(_worker, args=(2, _free_port(), str(folder), str(tmp_path / "dist")), nprocs=2, join=True)
    a = (tmp_path / "single" / "results.csv").read_text()
    b = (tmp_path / "dist" / "results.csv").read_text()
    assert a == b and len(a.splitlines()) == 1 + 5 * 2 * 2
    assert (tmp_path / "single" / "summary.csv").read_text() == (tmp_path / "dist" / "summary.csv").read_text()
    import json

    run = json.loads((tmp_path / "dist" / "run.json").read_text())
    assert run["environment"]["world_size"] == 2
    assert sorted(e["image"] for e in run["errors"]) == sorted(e["image"] for e in single.errors) == ["im5", "im5"]
    assert run["datasets"]["imgs"]["hr_pixel_sha256"] == json.loads(
        (tmp_path / "single" / "run.json").read_text())["datasets"]["imgs"]["hr_pixel_sha256"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "dist" / run["comparisons"][1]["models"]["bicubic"])),
                          np.asarray(Image.open(tmp_path / "single" / run["comparisons"][1]["models"]["bicubic"])))


@pytest.mark.slow
def test_torchrun_cli_equals_single_process(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    args = ["run", "-m", "bicubic", "-d", f"folder:{folder}", "-s", "2", "--metrics", "psnr,ssim", "--no-throughput",
            "--no-progress"]
    exe = Path(sys.executable)
    subprocess.run([str(exe.with_name("srbench")), *args, "-o", str(tmp_path / "one")], capture_output=True,
                   timeout=300)
    p = subprocess.run([str(exe.with_name("torchrun")), "--nproc-per-node", "2", "-m", "srbench", *args, "-o",
                        str(tmp_path / "two")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr  # exit 1: the broken file is an error on both
    assert (tmp_path / "one" / "results.csv").read_text() == (tmp_path / "two" / "results.csv").read_text()
