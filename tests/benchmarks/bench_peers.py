"""Acceptance run of issue 4: srbench's SRResNet x4 inference against the machine's peak and the Keras peer.

In one process run, on this machine's CPU:

1. ``../shared/bench/machine_peak.py`` (subprocess) and ``srbench.throughput.measure_peak``: the dense
   fp32 matrix-multiply peak (GFLOP/s) -- the roofline;
2. srbench's SRResNet x4 on a 128x128 LR input (``benchmark_model``: fused plan, fp32; and the plain
   eager module for reference), FLOPs from ``FlopCounterMode``;
3. ``../shared/bench/keras_srgan_peer.py`` (subprocess; it also times its training step first): its
   printed SRResNet x4 128x128 inference time;
4. srbench and the peak again (shared machines drift: the report uses the measurements nearest in time
   and prints all of them).

Prints the ratios: srbench achieved GFLOP/s / peak (target >= 0.70) and Keras time / srbench time
(target >= 1.7). Usage::

    .venv/bin/python tests/benchmarks/bench_peers.py [--keras-steps N] [--iters N] [--json OUT]

Without tensorflow the Keras step is skipped and said so. Weights: the packaged demo weights when
present, else random ones (same cost: timing does not depend on weight values).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED_BENCH = Path(os.environ.get("SRBENCH_SHARED_BENCH", REPO.parent / "shared" / "bench"))


def srresnet_x4() -> Any:
    """The srresnet x4 adapter (demo weights), or the same network with random weights."""
    from srbench.interfaces import ModelError
    from srbench.registry import get_model

    try:
        return get_model("srresnet", 4)
    except ModelError as exc:
        from srbench.models.networks import SRResNet
        from srbench.models.srresnet import SRResNetAdapter

        print(f"[note] {exc}; timing the same network with random weights")
        return SRResNetAdapter("srresnet", 4, SRResNet(4), weights="random", weights_sha256="", demo=True,
                               description="random weights (timing only)")


def machine_peak() -> dict[str, float]:
    script = SHARED_BENCH / "machine_peak.py"
    if not script.is_file():
        return {}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    found = {}
    for key, pat in [("gemm", r"gemm fp32 2048\^3: ([\d.]+)"), ("conv", r"conv3x3 64->64 128x128: ([\d.]+)"),
                     ("conv_cl", r"conv3x3 channels_last: ([\d.]+)")]:
        m = re.search(pat, out)
        if m:
            found[key] = float(m.group(1))
    return found


def keras_peer(steps: int) -> dict[str, float] | None:
    script = SHARED_BENCH / "keras_srgan_peer.py"
    try:
        import importlib.util

        if importlib.util.find_spec("tensorflow") is None or not script.is_file():
            return None
    except ValueError:
        return None
    proc = subprocess.run([sys.executable, str(script), str(steps)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"[note] keras peer failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    inf = re.search(r"inference 128x128 -> 512x512: ([\d.]+) s", proc.stdout)
    train = re.search(r"train step \(b16, 96px\): ([\d.]+) s", proc.stdout)
    return {"inference_s": float(inf.group(1)) if inf else float("nan"),
            "train_step_s": float(train.group(1)) if train else float("nan")}


def srbench_round(model: Any, iters: int) -> dict[str, Any]:
    from srbench.throughput import benchmark_model, measure_peak

    peak = measure_peak("cpu", "fp32")
    (fused,) = benchmark_model(model, scale=4, sizes=((128, 128),), fused=True, warmup=2, iters=iters,
                               peak_gflops=peak)
    (eager,) = benchmark_model(model, scale=4, sizes=((128, 128),), channels_last=True, warmup=1,
                               iters=max(2, iters // 3), peak_gflops=peak)
    peak_after = measure_peak("cpu", "fp32")
    return {"peak_before": peak, "peak_after": peak_after, "fused_ms": fused.ms_median,
            "fused_p90_ms": fused.ms_p90, "fused_gflops_s": fused.achieved_gflops_per_s,
            "eager_ms": eager.ms_median, "gflops_256": fused.gflops, "threads": fused.threads,
            "device_name": fused.device_name, "torch": fused.torch,
            "gflop_128": fused.achieved_gflops_per_s * fused.ms_median / 1e3}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keras-steps", type=int, default=1, help="training steps the peer times (it runs them first)")
    ap.add_argument("--iters", type=int, default=7, help="timed srbench inferences per round")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    import torch

    t0 = time.time()
    model = srresnet_x4()
    mp = machine_peak()
    r1 = srbench_round(model, args.iters)
    keras = keras_peer(args.keras_steps)
    r2 = srbench_round(model, args.iters)
    rounds = [r1, r2]

    peak = max(max(r["peak_before"], r["peak_after"]) for r in rounds)
    best = min(rounds, key=lambda r: r["fused_ms"])
    gflop = best["gflop_128"]
    fused_ms = statistics.median([r["fused_ms"] for r in rounds])
    print(f"device: {best['device_name']}, {torch.get_num_threads()} threads, torch {best['torch']}")
    if mp:
        print(f"machine_peak.py: gemm {mp.get('gemm', float('nan')):.1f} GFLOP/s, conv3x3 "
              f"{mp.get('conv', float('nan')):.1f}, conv3x3 channels_last {mp.get('conv_cl', float('nan')):.1f}")
    for i, r in enumerate(rounds, 1):
        print(f"round {i}: peak {r['peak_before']:.1f}/{r['peak_after']:.1f} GFLOP/s (before/after); srbench fused "
              f"{r['fused_ms']:.1f} ms (p90 {r['fused_p90_ms']:.1f}) = {r['fused_gflops_s']:.1f} GFLOP/s; "
              f"eager channels_last {r['eager_ms']:.1f} ms")
    print(f"SRResNet x4 128x128: {gflop:.2f} GFLOP per image ({gflop * 1e9 / 128 / 128 / 1e6:.3f} MFLOP/LR px); "
          f"{best['gflops_256']:.1f} GFLOP at 256x256")
    frac_round = [r["fused_gflops_s"] / max(r["peak_before"], r["peak_after"]) for r in rounds]
    print(f"peak fraction (per round, achieved median / best peak of that round): "
          f"{', '.join(f'{f:.2f}' for f in frac_round)}  [target >= 0.70]")
    result: dict[str, Any] = {"machine_peak": mp, "rounds": rounds, "peak_fraction_rounds": frac_round,
                              "peak_gflops": peak, "srbench_fused_ms": fused_ms}
    if keras is None:
        print("keras peer: skipped (tensorflow or the peer script not available)")
    else:
        ratio = keras["inference_s"] * 1e3 / fused_ms
        print(f"keras peer: inference {keras['inference_s'] * 1e3:.1f} ms, train step {keras['train_step_s']:.2f} s; "
              f"srbench fused {fused_ms:.1f} ms (median of rounds) -> speed-up {ratio:.2f}x  [target >= 1.7]")
        result.update(keras=keras, speedup_vs_keras=ratio)
    print(f"(total {time.time() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
