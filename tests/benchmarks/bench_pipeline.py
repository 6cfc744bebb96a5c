"""Issue 22, item 2: with a model that waits on a device (a fake GPU: it sleeps, releasing the GIL), the pipelined
quality pass takes about max(model, harness) instead of their sum.

Run: ``python tests/benchmarks/bench_pipeline.py [n_images] [model_ms] [size]`` (default 24 random images of
384x384 at x4, 15 ms per image: the model and the harness about equal, where pipelining matters most). The same
run three ways, in one process: the sequential pass (``workers=0``), the pipelined one (``workers=1``), and the
sequential pass with an instant model (the harness alone). Each figure is the quality pass's wall time from the
run's own run.json ``time`` (start-up and the report are the same either way); the model's time is its own
time in the sequential pass (the wait, with the tensor in and the 8-bit quantisation out). Prints the wall
times and the pipelined pass over max(model, harness) (target <= 1.15).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from srbench import registry
from srbench.config import RunConfig
from srbench.evaluate import evaluate
from srbench.interfaces import ModelInfo


class FakeGPU:
    """Bicubic-sized output after ``delay`` seconds of waiting (a kernel on a device: the GIL is released)."""

    name, scale, device = "fake-gpu", 4, "cpu"

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay)
        return torch.nn.functional.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False)

    def info(self) -> ModelInfo:
        return ModelInfo(self.name, "a model that waits on a device")


DELAY = {"value": 0.04}


def build(scale: int, **_: Any) -> FakeGPU:
    return FakeGPU(DELAY["value"])


def _pass(folder: Path, out: Path, workers: int) -> tuple[float, float]:
    """(the quality pass's wall time, the model's own time in it), from the run's own run.json ``time``."""
    cfg = RunConfig(models=("fake-gpu",), datasets=(f"folder:{folder}",), metrics=("psnr", "ssim"), throughput=False,
                    workers=workers)
    assert evaluate(cfg, out, progress=False, log=lambda _m: None).ok
    spent = json.loads((out / "run.json").read_text())["time"]
    return spent["wall_s"], sum(spent["models_s"].values())


def main(n_images: int = 24, model_ms: float = 15.0, size: int = 384) -> dict:
    DELAY["value"] = model_ms / 1000
    registry.BUILTIN = {**registry.BUILTIN, "fake-gpu": (f"{__name__}:build", "benchmark double")}
    root = Path(tempfile.mkdtemp(prefix="srbench-pipe-"))
    folder = root / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n_images):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    _pass(folder, root / "warm", 0)  # imports, numba compilation
    sequential, model = _pass(folder, root / "seq", 0)
    pipelined, _ = _pass(folder, root / "pipe", 1)
    DELAY["value"] = 0.0
    harness, _ = _pass(folder, root / "harness", 0)
    bound = max(model, harness)
    result = {"images": n_images, "size": size, "model_s": round(model, 3), "harness_s": round(harness, 3),
              "sum_s": round(model + harness, 3), "sequential_s": round(sequential, 3),
              "pipelined_s": round(pipelined, 3), "pipelined_over_max": round(pipelined / bound, 3),
              "sequential_over_max": round(sequential / bound, 3)}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.modules.setdefault("bench_pipeline", sys.modules[__name__])
    main(*(float(a) if "." in a else int(a) for a in sys.argv[1:]))
