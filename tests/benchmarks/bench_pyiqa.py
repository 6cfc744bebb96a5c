"""Issue 22, item 3: bicubic over B100 x2/x3/x4, end to end, srbench against the pipeline a user would otherwise
write with pyiqa (its MATLAB ``imresize`` and its Y-channel PSNR/SSIM), in one run.

Run (pyiqa is not a dependency of srbench: give it its own virtualenv, e.g. ``python -m venv /tmp/pyiqa-venv &&
/tmp/pyiqa-venv/bin/pip install -e . pyiqa``)::

    SRBENCH_SHARED_DATASETS=/path/to/datasets /tmp/pyiqa-venv/bin/python tests/benchmarks/bench_pyiqa.py [b100]

(a) ``srbench run -m bicubic -d b100 -s 2,3,4 --no-throughput --metrics psnr,ssim``: the process's wall time
    (start-up, the report and its images included) and the run's own (run.json ``seconds``).
(b) the pyiqa pipeline, configured to the protocol as far as pyiqa goes: HR read as RGB and modcropped,
    ``pyiqa.matlab_utils.imresize(hr, 1/s)`` rounded to 8 bits (MATLAB on uint8), ``imresize(lr, s)`` rounded,
    then ``create_metric("psnr"/"ssim", test_y_channel=True, color_space="ycbcr", crop_border=s)``. Timed
    after ``import pyiqa`` (its import, several seconds, is printed apart).

The target is srbench >= 10x faster; the table shows how close pyiqa's numbers come to srbench's (and to the
published ones): pyiqa's SSIM rounds the Y plane to integers, which the protocol does not do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
SCALES = (2, 3, 4)


def _srbench_run(dataset: str, data_dir: Path, out: Path) -> tuple[float, float, pd.DataFrame]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "srbench", "run", "-m", "bicubic", "-d", dataset, "-s",
                        ",".join(map(str, SCALES)), "--data-dir", str(data_dir), "--no-throughput",
                        "--metrics", "psnr,ssim", "--no-progress", "-o", str(out)],
                       capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"srbench run failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    record = json.loads((out / "run.json").read_text())
    return wall, float(record["seconds"]), pd.read_csv(out / "results.csv", dtype={"image": str})


def _pyiqa_pipeline(paths: list[Path]) -> tuple[float, pd.DataFrame]:
    import pyiqa
    import torch
    from PIL import Image
    from pyiqa.matlab_utils import imresize

    t0 = time.perf_counter()
    rows = []
    for s in SCALES:
        psnr = pyiqa.create_metric("psnr", test_y_channel=True, color_space="ycbcr", crop_border=s, device="cpu")
        ssim = pyiqa.create_metric("ssim", test_y_channel=True, color_space="ycbcr", crop_border=s, device="cpu")
        for path in paths:
            hr = np.array(Image.open(path).convert("RGB"))
            h, w = hr.shape[0] - hr.shape[0] % s, hr.shape[1] - hr.shape[1] % s
            x = torch.from_numpy(np.ascontiguousarray(hr[:h, :w])).permute(2, 0, 1)[None].float() / 255
            lr = (imresize(x, scale=1 / s) * 255).round().clamp(0, 255) / 255
            sr = (imresize(lr, scale=s) * 255).round().clamp(0, 255) / 255
            with torch.no_grad():
                rows.append((path.stem, s, "psnr", float(psnr(sr, x))))
                rows.append((path.stem, s, "ssim", float(ssim(sr, x))))
    return time.perf_counter() - t0, pd.DataFrame(rows, columns=["image", "scale", "metric", "value"])


def main() -> None:
    dataset = sys.argv[1] if len(sys.argv) > 1 else "b100"
    data_dir = Path(os.environ.get("SRBENCH_SHARED_DATASETS") or "")
    if not data_dir.is_dir():
        raise SystemExit("set SRBENCH_SHARED_DATASETS to the folder holding B100")
    t0 = time.perf_counter()
    try:
        import pyiqa  # noqa: F401
    except ImportError:
        raise SystemExit("pyiqa is not installed here: run this with a virtualenv holding srbench and pyiqa "
                         "(pip install -e . pyiqa)") from None
    imported = time.perf_counter() - t0
    sys.path.insert(0, str(REPO))
    from srbench.data.sources import resolve_dataset

    source = resolve_dataset(dataset, data_dir=data_dir)
    paths = [im.path for im in source.images if im.path is not None]
    with tempfile.TemporaryDirectory() as tmp:
        wall, run_s, ours = _srbench_run(dataset, data_dir, Path(tmp) / "run")
    theirs_s, theirs = _pyiqa_pipeline(paths)
    print(f"{dataset}: {len(paths)} images x {len(SCALES)} scales")
    print(f"(a) srbench run: {wall:.1f} s process wall (start-up and report included), {run_s:.1f} s the run itself")
    print(f"(b) pyiqa pipeline: {theirs_s:.1f} s (+ {imported:.1f} s to import pyiqa)")
    print(f"speed-up: {theirs_s / wall:.1f}x against srbench's process wall, {theirs_s / run_s:.1f}x against its run "
          f"(target >= 10x)")
    ours = ours[ours["model"] == "bicubic"][["image", "scale", "metric", "value"]]
    both = ours.merge(theirs, on=["image", "scale", "metric"], suffixes=("_srbench", "_pyiqa"))
    both["diff"] = both["value_pyiqa"] - both["value_srbench"]
    table = both.groupby(["scale", "metric"]).agg(
        srbench=("value_srbench", "mean"), pyiqa=("value_pyiqa", "mean"), mean_diff=("diff", "mean"),
        max_abs_diff=("diff", lambda d: d.abs().max()), images=("image", "count"))
    from srbench.report.tables import load_published

    pub = load_published()
    pub = pub[(pub["model"] == "bicubic") & (pub["dataset"] == source.name.lower())]
    table["published"] = [next(iter(pub[(pub["scale"] == s) & (pub["metric"] == m)]["value"]), float("nan"))
                          for s, m in table.index]
    with pd.option_context("display.width", 200):
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
