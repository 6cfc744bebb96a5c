"""Issue 22, item 3: the harness's own cost beside the models'.

Run: ``SRBENCH_SHARED_DATASETS=/path/to/datasets python tests/benchmarks/bench_overhead.py [set5,set14] [srresnet] [3]``
(the last argument: how many runs, one after another; each is printed and the median overhead is the figure).

``srbench run -m srresnet -d <datasets> -s 4 --no-throughput --metrics psnr,ssim`` once; run.json's ``time`` block
(written by the run itself, :class:`srbench.pipeline.Spent`) splits the quality pass's wall time into each
model's own time (its forward pass, with the tensor in and 8-bit quantisation out) and the harness's (reading
images and making the MATLAB LR, metrics, writes, the sanity reference). The overhead is (wall - model) / wall
of the quality pass, after start-up (target: at most 10 % on a 2-core CPU).

Each round runs it twice, with the default ``--workers`` (on a CPU device: 0 unless torch leaves cores free,
:attr:`srbench.config.RunConfig.n_workers`) and with ``--workers 1`` (the pipelined pass forced), to show what a
helper thread does where the model already takes every core (issue 22, item 2: not slower by default).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def one_run(datasets: str, model: str, *extra: str) -> dict:
    data = os.environ.get("SRBENCH_SHARED_DATASETS")
    if not data:
        raise SystemExit("set SRBENCH_SHARED_DATASETS to the benchmark images")
    out = Path(tempfile.mkdtemp(prefix="srbench-overhead-")) / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "srbench", "run", "-m", model, "-d", datasets, "-s", "4",
                        "--data-dir", data, "--no-throughput", "--metrics", "psnr,ssim", "--no-progress",
                        "-o", str(out), *extra], capture_output=True, text=True, env=env, check=False)
    process = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"srbench run failed ({p.returncode}):\n{p.stderr[-3000:]}")
    spent = json.loads((out / "run.json").read_text())["time"]
    wall, models = spent["wall_s"], sum(spent["models_s"].values())
    result = {"workers": spent.get("workers"), "process_s": round(process, 2), "quality_pass_s": wall,
              "model_s": round(models, 3),
              "harness_s": spent["harness_s"], "other_s": spent["other_s"],
              "overhead": round((wall - models) / wall, 4)}
    print(json.dumps(result))
    return result


def main(datasets: str = "set5,set14", model: str = "srresnet", runs: str = "3") -> float:
    default, forced = [], []
    for _ in range(int(runs)):
        default.append(one_run(datasets, model))
        forced.append(one_run(datasets, model, "--workers", "1"))
    for name, rounds in (("default --workers", default), ("--workers 1", forced)):
        shares = [r["overhead"] for r in rounds]
        print(f"{name}: overhead {', '.join(f'{100 * s:.1f} %' for s in shares)}; median "
              f"{100 * statistics.median(shares):.1f} % (target <= 10 %); quality pass median "
              f"{statistics.median(r['quality_pass_s'] for r in rounds):.2f} s")
    ratio = statistics.median(f["quality_pass_s"] / d["quality_pass_s"] for f, d in zip(forced, default, strict=True))
    print(f"quality pass, --workers 1 over the default: {ratio:.3f} (median of {runs} interleaved pairs)")
    return statistics.median(r["overhead"] for r in default)


if __name__ == "__main__":
    main(*sys.argv[1:])
