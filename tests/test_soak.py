"""Fault-injection soak (slow, excluded from `make test`): SIGKILL a real `srbench run` at random moments,
resume until it completes, and compare with an uninterrupted run byte for byte."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _srbench(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "srbench.cli", "run", "--no-progress", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _rows(run: Path) -> int:
    try:
        return (run / "results.csv").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    import skimage.data

    photo = skimage.data.astronaut()
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(12):
        Image.fromarray(np.ascontiguousarray(photo[i * 20 : i * 20 + 96, i * 25 : i * 25 + 88])).save(
            d / f"im{i:02}.png")
    args = ["-m", "bicubic", "-d", f"folder:{d}", "-s", "2,4", "--metrics", "psnr,ssim", "--no-throughput"]
    assert _srbench(*args, "-o", str(tmp_path / "ref")).wait(timeout=300) == 0

    rng = random.Random(14)
    run = tmp_path / "run"
    p = _srbench(*args, "-o", str(run))
    kills = 0
    for _ in range(40):
        # Kill at moments defined by progress, not by the clock (a fast machine would finish between two
        # timed kills): after 1-8 more rows, or now and then during start-up (imports, run.json, the lock).
        if rng.random() < 0.2:
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            target = _rows(run) + rng.randint(1, 8)
            deadline = time.monotonic() + 120
            while p.poll() is None and _rows(run) < target and time.monotonic() < deadline:
                time.sleep(0.01)
        if p.poll() is not None:
            break
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        kills += 1
        p = _srbench("--resume", str(run)) if (run / "run.json").exists() else _srbench(*args, "-o", str(run))
    assert p.wait(timeout=300) == 0
    assert kills >= 2
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
    for name in ("results.csv", "summary.csv"):
        assert (run / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name
