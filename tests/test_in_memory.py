"""check() and render_table() take data in memory (DataFrames, RunData, a baseline dict) as well as paths,
and give the same answers as from the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srbench.check import check, save_baseline
from srbench.data.io import write_image
from srbench.evaluate import RunConfig, evaluate
from srbench.report.tables import render_table
from srbench.rundir import RunDirError, as_run_data, load_run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mem")
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(root / "imgs" / f"im{i}.png", rng.integers(0, 256, (24, 28, 3), dtype=np.uint8))
    cfg = RunConfig(models=("bicubic",), datasets=(f"folder:{root / 'imgs'}",), scales=(2,),
                    metrics=("psnr", "ssim"), throughput=False)
    return evaluate(cfg, root / "run", progress=False).run_dir


def test_render_table_from_dataframes_equals_from_the_folder(run_dir: Path) -> None:
    from_files = render_table([run_dir])
    results = pd.read_csv(run_dir / "results.csv")
    summary = pd.read_csv(run_dir / "summary.csv")
    assert render_table([results]) == from_files
    assert render_table([summary]) == from_files
    assert render_table([load_run_dir(run_dir)], fmt="csv") == render_table([run_dir], fmt="csv")


def test_check_from_memory_equals_from_files(run_dir: Path, tmp_path: Path) -> None:
    baseline = save_baseline(run_dir, tmp_path / "b.json")
    doc = json.loads(baseline.read_text())
    on_files = check(run_dir, baseline)
    assert on_files.status == 0
    for run in (pd.read_csv(run_dir / "results.csv"), load_run_dir(run_dir)):
        for base in (baseline, doc):
            got = check(run, base)
            assert got.status == 0 and got.mismatches == [] and len(got.rows) == len(on_files.rows)
    worse = pd.read_csv(run_dir / "summary.csv")
    worse.loc[worse["metric"] == "psnr", "value"] -= 0.5
    assert check(worse, doc).status == 1  # a regression is caught in memory too


def test_a_dataframe_without_the_columns_is_a_clear_error() -> None:
    with pytest.raises(RunDirError, match="needs the columns of results.csv"):
        as_run_data(pd.DataFrame({"a": [1]}))
