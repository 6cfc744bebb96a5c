"""Start-up (issue 22, item 5): the compiled kernels load while the models are built, under a ``preparing``
progress line, so the first image waits for neither."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench import pipeline
from srbench.config import RunConfig
from srbench.console import Console
from srbench.evaluate import evaluate
from srbench.registry import build_models


def test_warm_up_runs_the_resize_and_metrics_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, ...]] = []
    real = pipeline.score

    def spy(sr, hr, scale, metrics, colour, lpips_metric, **kw):  # type: ignore[no-untyped-def]
        seen.append(metrics)
        return real(sr, hr, scale, metrics, colour, lpips_metric, **kw)

    monkeypatch.setattr(pipeline, "score", spy)
    assert pipeline.warm_up(("psnr", "ssim", "lpips"), "y") is None
    assert seen == [("psnr", "ssim")]  # LPIPS needs its loaded network: not warmed here

    def broken(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("a kernel that cannot load")

    monkeypatch.setattr(pipeline, "score", broken)
    assert pipeline.warm_up(("psnr",), "y") is None  # the run's own images report real problems


def test_build_models_names_each_model_before_building_it() -> None:
    names: list[str] = []
    models = build_models([("bicubic", "bicubic"), ("b", "bicubic")], (2, 4), building=names.append)
    assert names == ["bicubic x2", "b x2", "bicubic x4", "b x4"]
    assert set(models) == {2, 4}


def test_a_run_shows_a_preparing_line_before_its_first_image(tmp_path: Path) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(d / "a.png")
    stream = io.StringIO()
    cfg = RunConfig(models=("bicubic",), datasets=(f"folder:{d}",), metrics=("psnr",), throughput=False)
    assert evaluate(cfg, tmp_path / "run", console=Console("bars", stream=stream)).ok
    text = stream.getvalue()
    assert "preparing" in text and "1 model, kernels loaded" in text
    assert text.index("preparing") < text.index("imgs x4")
