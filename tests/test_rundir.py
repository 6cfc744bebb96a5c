"""Reading run directories: strings stay strings, inf survives, summaries are recomputed when absent."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from srbench.rundir import RunDirError, aggregate, load_run_dir
from tests.report.fakerun import write_run

ROWS = [
    ("NA", "set5", 4, "baby", "psnr", 30.0),
    ("NA", "set5", 4, "bird", "psnr", 32.0),
    ("1e3", "set5", 4, "baby", "psnr", math.inf),
    ("1e3", "set5", 4, "bird", "psnr", 31.0),
]


def test_text_columns_stay_strings_and_inf_parses(tmp_path: Path) -> None:
    run = load_run_dir(write_run(tmp_path / "r", ROWS))
    assert list(run.results["model"].unique()) == ["NA", "1e3"]
    assert run.results["value"].dtype == "float64"
    assert math.isinf(run.results["value"].iloc[2])
    s = run.summary.set_index(["model", "metric"])
    assert s.loc[("NA", "psnr"), "value"] == pytest.approx(31.0)
    assert math.isinf(s.loc[("1e3", "psnr"), "value"])
    assert run.models() == ["NA", "1e3"]
    assert run.higher_is_better("psnr") is True and run.higher_is_better("unknown") is None


def test_summary_recomputed_from_results_when_absent(tmp_path: Path) -> None:
    run = load_run_dir(write_run(tmp_path / "r", ROWS, write_summary=False))
    got = run.summary.set_index("model")
    assert got.loc["NA", "value"] == pytest.approx(31.0) and got.loc["NA", "n_images"] == 2
    assert list(aggregate(run.results).columns) == ["model", "dataset", "scale", "metric", "value", "n_images"]


def test_metric_direction_comes_from_run_json(tmp_path: Path) -> None:
    meta = {"metrics": {"psnr": {"higher_is_better": False}}}
    run = load_run_dir(write_run(tmp_path / "r", ROWS, meta=meta))
    assert run.higher_is_better("psnr") is False


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="no such folder"):
        load_run_dir(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError, match=r"run\.json: missing"):
        load_run_dir(tmp_path / "empty")
    root = write_run(tmp_path / "r", ROWS)
    meta = json.loads((root / "run.json").read_text())
    meta["schema_version"] = 99
    (root / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match="schema_version 99"):
        load_run_dir(root)
    meta["schema_version"] = 1
    (root / "run.json").write_text(json.dumps(meta))
    (root / "results.csv").write_text("model,dataset,value\nx,y,1\n")
    with pytest.raises(RunDirError, match=r"results\.csv: missing column\(s\) scale, image, metric"):
        load_run_dir(root)
