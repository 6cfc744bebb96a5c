"""Where a run's time goes (issue 22 item 3): srbench.pipeline.Spent with an injected clock, and run.json's
``time`` block of a real run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from srbench.config import RunConfig
from srbench.evaluate import evaluate
from srbench.pipeline import Spent


def test_spent_adds_each_models_time_and_the_harness_time_with_a_fake_clock() -> None:
    ticks = iter([0.0, 2.0, 2.0, 2.5, 3.0, 6.0, 6.0, 6.25])
    spent = Spent(clock=lambda: next(ticks))
    with spent.on("model", "srresnet"):
        pass  # 2.0 s
    with spent.on("metrics"):
        pass  # 0.5 s
    with spent.on("model", "srresnet"):
        pass  # 3.0 s
    with spent.on("writes"):
        pass  # 0.25 s
    rec = spent.record(wall=6.0)
    assert rec["models_s"] == {"srresnet": 5.0} and rec["harness_s"] == {"metrics": 0.5, "writes": 0.25}
    assert rec["other_s"] == 0.25 and rec["model_share"] == round(5.0 / 6.0, 4)


def test_run_json_records_the_models_and_the_harness_time(tmp_path: Path) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(d / "a.png")
    assert evaluate(RunConfig(models=("bicubic",), datasets=(f"folder:{d}",), metrics=("psnr",), throughput=False),
                    tmp_path / "run", progress=False, log=lambda _m: None).ok
    spent = json.loads((tmp_path / "run" / "run.json").read_text())["time"]
    assert set(spent["models_s"]) == {"bicubic"} and {"read_and_lr", "metrics", "writes"} <= set(spent["harness_s"])
    assert spent["workers"] == RunConfig(models=("bicubic",), datasets=("set5",)).n_workers  # the default, resolved
    report = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "quality pass" in report and "harness time" in report and "models&#39; own time" in report
    assert 0 < spent["model_share"] <= 1 and spent["wall_s"] >= sum(spent["models_s"].values())
