"""Issue 22, item 1: the timed pass of the default run is a fraction of its wall time, and its medians agree
with a long ``srbench bench`` of the same cells.

Run: ``SRBENCH_SHARED_DATASETS=/path/to/datasets python tests/benchmarks/bench_timed_pass.py [set5,set14]``.

(a) ``srbench run -m bicubic,srresnet,srgan -d <datasets> -s 4`` (defaults otherwise: the timed pass times
    LR 128x128 and the first 5 images per dataset, each cell within 2 s): wall time of the process, the
    run's own time and the timed pass's (run.json ``throughput.seconds``); the share is the pass over the
    process wall time (start-up included, as a user waits for it).
(b) right after, ``srbench bench`` of the same cells (same models, 128x128, the same 5 images as a folder
    per dataset, fused + channels_last as the run's pass) with a long budget (``--time-budget 10``); the
    table puts each cell's median of (a) beside (b)'s and their ratio (target: within 5 %).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
MODELS = "bicubic,srresnet,srgan"
LONG_BUDGET_S = "10"


def _srbench(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "srbench", *args], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        raise SystemExit(f"srbench {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return wall, p


def _timing_folders(datasets: list[str], data_dir: Path, root: Path) -> list[str]:
    """A folder per dataset holding the HR images the run timed (its first 5, in the run's order)."""
    sys.path.insert(0, str(REPO))
    from srbench.config import TIMING_IMAGES
    from srbench.data.sources import resolve_dataset

    specs = []
    for name in datasets:
        src = resolve_dataset(name, data_dir=data_dir)
        folder = root / src.name
        folder.mkdir(parents=True)
        for im in src.images[:TIMING_IMAGES]:
            assert im.path is not None
            (folder / im.path.name).symlink_to(im.path)
        specs.append(f"folder:{folder}")
    return specs


def main() -> None:
    datasets = (sys.argv[1] if len(sys.argv) > 1 else "set5,set14").split(",")
    data_dir = Path(os.environ.get("SRBENCH_SHARED_DATASETS") or "")
    if not data_dir.is_dir():
        raise SystemExit("set SRBENCH_SHARED_DATASETS to the folder holding Set5/Set14")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        wall, p = _srbench("run", "-m", MODELS, "-d", ",".join(datasets), "-s", "4", "--data-dir", str(data_dir),
                           "--no-progress", "-o", str(run_dir))
        record = json.loads((run_dir / "run.json").read_text())
        tp_s = float(record["throughput"]["seconds"])
        print(f"(a) srbench run -m {MODELS} -d {','.join(datasets)} -s 4: wall {wall:.1f} s (process), run "
              f"{record['seconds']:.1f} s, timed pass {tp_s:.1f} s = {100 * tp_s / wall:.1f} % of the wall time "
              f"(target <= 20 %); quality pass {record['seconds'] - tp_s:.1f} s")
        run_tp = pd.read_csv(run_dir / "throughput.csv")
        folders = _timing_folders(datasets, data_dir, Path(tmp) / "timed")
        bench_dir = Path(tmp) / "bench"
        bwall, _ = _srbench("bench", "-m", MODELS, "-s", "4", "--sizes", "128", "-d", ",".join(folders),
                            "--fused", "--channels-last", "--time-budget", LONG_BUDGET_S, "-o", str(bench_dir))
        long_tp = pd.read_csv(bench_dir / "throughput.csv")
    print(f"(b) srbench bench of the same cells, --time-budget {LONG_BUDGET_S}: {bwall:.1f} s")
    key = ["model", "input"]
    both = run_tp.merge(long_tp, on=key, suffixes=("_run", "_bench"))
    both["ratio"] = both["ms_median_run"] / both["ms_median_bench"]
    cols = ["model", "input", "ms_median_run", "n_calls_run", "ci_low_ms_run", "ci_high_ms_run", "ms_median_bench",
            "n_calls_bench", "ratio", "peak_reliable_run", "load_avg_1m_run"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(both[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    off = both[(both["ratio"] - 1).abs() > 0.05]
    print(f"cells within 5 %: {len(both) - len(off)} of {len(both)}; max |ratio - 1| = "
          f"{(both['ratio'] - 1).abs().max() * 100:.1f} %")
    print("run's busy notes:", sorted({n for n in run_tp["note"].fillna("") if "busy" in n}) or "none")
    print(p.stdout[-1500:])


if __name__ == "__main__":
    main()
