"""The pipelined quality pass (issue 22 item 2): helper threads read the next images and score the previous one
while the models run; results are those of the sequential pass, byte for byte, and the overlap is real."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import srbench.imagepass as ev
from srbench import registry
from srbench.config import RunConfig
from srbench.evaluate import evaluate
from srbench.interfaces import ModelInfo


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(3)
    for i in range(5):
        base = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
        img = np.kron(base, np.ones((5, 5, 1), dtype=np.uint8))  # blocky, so bicubic is not noise
        Image.fromarray(img).save(d / f"im{i}.png")
    Image.fromarray(np.full((40, 40), 90, dtype=np.uint8)).save(d / "flat.png")  # gray; NIQE cannot score it
    (d / "broken.png").write_bytes(b"not a png")
    return d


def _run(folder: Path, out: Path, workers: int, models: tuple[str, ...] = ("bicubic", "srresnet")) -> Any:
    cfg = RunConfig(models=models, datasets=(f"folder:{folder}",), metrics=("psnr", "ssim", "niqe"),
                    throughput=False, workers=workers, n_compare=2)
    return evaluate(cfg, out, progress=False, log=lambda _m: None)


def _record(out: Path) -> dict:
    rec = json.loads((out / "run.json").read_text())
    for key in ("created", "seconds", "time", "run_id", "config"):
        rec.pop(key, None)
    return rec


def test_the_pipelined_pass_writes_what_the_sequential_one_writes(folder: Path, tmp_path: Path) -> None:
    seq, pipe = _run(folder, tmp_path / "seq", 0), _run(folder, tmp_path / "pipe", 2)
    assert (tmp_path / "seq" / "results.csv").read_bytes() == (tmp_path / "pipe" / "results.csv").read_bytes()
    assert (tmp_path / "seq" / "summary.csv").read_bytes() == (tmp_path / "pipe" / "summary.csv").read_bytes()
    assert _record(tmp_path / "seq") == _record(tmp_path / "pipe")  # errors, warnings, comparisons, sanity
    assert seq.errors == pipe.errors and len(seq.errors) == 1 and "broken.png" in seq.errors[0]["error"]
    for sub in ("images/imgs/x4/HR", "images/imgs/x4/srresnet"):
        assert sorted(p.name for p in (tmp_path / "seq" / sub).iterdir()) == \
            sorted(p.name for p in (tmp_path / "pipe" / sub).iterdir())


def test_the_models_of_the_next_image_run_while_the_previous_one_is_scored(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No clock: the scorer of the first image waits (up to 30 s, only to avoid a deadlock) until the model has
    started on a later image. The pipelined pass lets it; one after another, it never happens."""
    started_later = threading.Event()
    seen: list[bool] = []

    class Gated:
        name, scale, device = "gated", 4, "cpu"

        def __init__(self) -> None:
            self.calls = 0

        def upscale(self, lr: Any) -> Any:
            import torch

            self.calls += 1
            if self.calls > 1:
                started_later.set()
            return torch.nn.functional.interpolate(lr, scale_factor=4, mode="nearest")

        def info(self) -> ModelInfo:
            return ModelInfo("gated", "test double")

    monkeypatch.setattr(registry, "BUILTIN", {**registry.BUILTIN, "gated": ("tests.test_pipelined:_gated", "x")})
    globals()["_gated"] = lambda scale, **_: Gated()
    real = ev.score

    def score(*args: Any, **kwargs: Any) -> Any:
        if not seen:
            seen.append(started_later.wait(timeout=30))
        return real(*args, **kwargs)

    monkeypatch.setattr(ev, "score", score)
    assert _run(folder, tmp_path / "pipe", 1, models=("gated",)).rows
    assert seen == [True]  # the model ran on a later image while image 1 was being scored
    seen.clear()
    started_later.clear()
    monkeypatch.setattr(ev, "score", lambda *a, **k: (seen.append(started_later.is_set()) if not seen else None)
                        or real(*a, **k))
    assert _run(folder, tmp_path / "seq", 0, models=("gated",)).rows
    assert seen == [False]  # one after another: image 1 is scored before the model sees image 2


def test_resume_of_a_pipelined_run_is_the_uninterrupted_run(folder: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    _run(folder, full, 2)
    part = tmp_path / "part"
    _run(folder, part, 2)
    lines = (part / "results.csv").read_bytes().splitlines(keepends=True)
    (part / "results.csv").write_bytes(b"".join(lines[: len(lines) // 2]))  # as if killed half-way
    cfg = RunConfig(models=("bicubic", "srresnet"), datasets=(f"folder:{folder}",), metrics=("psnr", "ssim", "niqe"),
                    throughput=False, workers=2, n_compare=2)
    evaluate(cfg, part, resume=True, progress=False, log=lambda _m: None)
    assert sorted((part / "results.csv").read_bytes().splitlines()) == \
        sorted((full / "results.csv").read_bytes().splitlines())


def test_on_the_shared_sets_the_pipelined_results_are_the_sequential_ones_byte_for_byte(
    shared_datasets: Path, tmp_path: Path
) -> None:
    """Set5 and Set14 (a grayscale image among them), bicubic and SRResNet, PSNR/SSIM/NIQE: the same files."""
    def run(out: Path, workers: int) -> None:
        cfg = RunConfig(models=("bicubic", "srresnet"), datasets=("set5", "set14"), data_dir=str(shared_datasets),
                        metrics=("psnr", "ssim", "niqe"), throughput=False, workers=workers)
        assert evaluate(cfg, out, progress=False, log=lambda _m: None).ok

    run(tmp_path / "seq", 0)
    run(tmp_path / "pipe", 2)
    for name in ("results.csv", "summary.csv"):
        assert (tmp_path / "seq" / name).read_bytes() == (tmp_path / "pipe" / name).read_bytes(), name
    assert _record(tmp_path / "seq") == _record(tmp_path / "pipe")


@pytest.mark.parametrize(("device", "cores", "torch_threads", "workers", "expected"), [
    ("cpu", 2, 2, None, 0),  # a CPU model takes every core: a helper would only take one from it
    ("cpu", 16, 4, None, 4),  # torch given 4 threads: the free cores, at most 4
    ("cpu", 8, 6, None, 2),
    ("cuda", 2, 2, None, 1),  # one core drives the GPU
    ("cuda:1", 32, 32, None, 4),
    ("cpu", 2, 2, 3, 3),  # asked for: as asked
    ("cuda", 8, 8, 0, 0),
])
def test_the_default_workers_are_the_cores_the_models_leave_free(
    monkeypatch: pytest.MonkeyPatch, device: str, cores: int, torch_threads: int, workers: int | None, expected: int
) -> None:
    import os

    import torch

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(torch, "get_num_threads", lambda: torch_threads)
    cfg = RunConfig(models=("bicubic",), datasets=("set5",), device=device, workers=workers)
    assert cfg.n_workers == expected
