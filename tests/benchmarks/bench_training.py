"""SRGAN training step: srbench (PyTorch) vs the seed article's TensorFlow/Keras peer, side by side.

The step is the paper's: batch 16, 96x96 HR crops (24x24 LR, x4), generator + discriminator updates,
VGG19 phi_5,4 content loss with RANDOM VGG weights (same cost as ImageNet weights, which are not
available offline) and 1e-3 adversarial loss. srbench's step is the trainer's own StepRunner.

Also reports the fraction of this machine's fp32 GEMM peak (``$SRBENCH_SHARED_BENCH/machine_peak.py``, same run)
that srbench's step reaches: step FLOPs counted by ``torch.utils.flop_counter`` / step time / peak.

    .venv/bin/python tests/benchmarks/bench_training.py [--steps 3] [--rounds 2] [--threads N] [--cpu-time]

Measured 2026-11-26 on a Xeon with AVX-512 + AMX (2 cores, torch 2.14.1, TF 2.21), wall clock, 2 threads,
min of 3 interleaved rounds: Keras peer 3.04 s/step; srbench fp32 3.13 s (0.97x); srbench ``amp = bf16``
1.14 s (2.68x). On the AMD EPYC (Zen 5, avx512_bf16, no AMX) of 2026-12-03 the in-process comparison of
``bench_peers.py`` gave fp32 0.95x and bf16 1.59x (medians of 5 rounds). Step = 692 GFLOP.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SRBENCH_SHARED_BENCH") or ".")  # "." holds no peer scripts: skipped


def srbench_runner(channels_last: bool, compile: bool = False, amp: str = "none"):
    from srbench.perf.memory import retain_freed_memory
    from srbench.training.config import load_config
    from srbench.training.step import StepRunner, build_networks, make_optimizer

    retain_freed_memory()  # as `srbench train` does on a CPU
    cfg = load_config(None, {"model": "srgan", "content_loss": "vgg54", "vgg_weights": "random", "crop": 96,
                             "batch": 16, "train_data": ["unused"]})
    G, D, content = build_networks(cfg)
    mf = torch.channels_last if channels_last else torch.contiguous_format
    for m in (G, D, content):
        m.to(memory_format=mf)
    G.train()
    D.train()
    runner = StepRunner(G, D, content, make_optimizer(G, cfg, cfg.lr), make_optimizer(D, cfg, cfg.lr),
                        adv_weight=cfg.adv_weight, device=torch.device("cpu"), amp=amp, compile=compile)
    g = torch.Generator().manual_seed(0)
    lr = torch.rand(16, 3, 24, 24, generator=g).contiguous(memory_format=mf)
    hr = (torch.rand(16, 3, 96, 96, generator=g) * 2 - 1).contiguous(memory_format=mf)
    return lambda: runner(lr, hr)


def time_srbench(steps: int, channels_last: bool, compile: bool = False, amp: str = "none") -> float:
    step = srbench_runner(channels_last, compile, amp)
    step()
    step()  # warm-up (oneDNN primitive caches, allocator)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps


def cpu_srbench(steps: int, amp: str) -> float:
    """CPU seconds per step with 1 thread (robust when other processes share the cores)."""
    torch.set_num_threads(1)
    step = srbench_runner(True, amp=amp)
    step()
    step()
    t = time.process_time()
    for _ in range(steps):
        step()
    return (time.process_time() - t) / steps


def cpu_peer(steps: int) -> float:
    """CPU seconds per peer step with 1 TF thread: (CPU of a run with 1 + steps timed steps - CPU of a run
    with 1) / steps, so start-up, graph building and warm-up cancel out."""
    import os
    import resource

    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}

    def run(n: int) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, str(SHARED / "keras_srgan_peer.py"), str(n)], capture_output=True,
                       check=True, env=env, timeout=1800)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    return (run(1 + steps) - run(1)) / steps


def step_flops() -> int:
    from torch.utils.flop_counter import FlopCounterMode

    step = srbench_runner(False)
    with FlopCounterMode(display=False) as fc:
        step()
    return int(fc.get_total_flops())


def time_peer(steps: int) -> float:
    out = subprocess.run([sys.executable, str(SHARED / "keras_srgan_peer.py"), str(steps)], capture_output=True,
                         text=True, timeout=1800)
    m = re.search(r"keras srgan train step \(b16, 96px\): ([0-9.]+) s", out.stdout)
    if not m:
        raise RuntimeError(f"peer failed: {out.stdout[-1000:]} {out.stderr[-2000:]}")
    return float(m.group(1))


def machine_peak() -> float:
    out = subprocess.run([sys.executable, str(SHARED / "machine_peak.py")], capture_output=True, text=True, timeout=600)
    m = re.search(r"gemm fp32 2048\^3: ([0-9.]+) GFLOP/s", out.stdout)
    if not m:
        raise RuntimeError(f"machine_peak failed: {out.stdout} {out.stderr[-1000:]}")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per measurement (after 2 warm-up steps)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating peer/srbench rounds (min reported)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="contention-robust mode: 1 thread each, CPU seconds per step instead of wall seconds")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--variants", action="store_true", help="also time fp32 without channels_last")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cpu_time:
        flops = step_flops()
        peak = machine_peak()
        p = cpu_peer(args.steps)
        o = cpu_srbench(args.steps, "none")
        ob = cpu_srbench(args.steps, "bf16")
        core_peak = peak / max(1, os.cpu_count() or 1)
        res = {"mode": "cpu seconds per step, 1 thread", "keras_peer": p, "srbench_fp32": o, "srbench_bf16": ob,
               "speedup_fp32": p / o, "speedup_bf16": p / ob, "step_gflop": flops / 1e9,
               "gemm_fp32_peak_all_cores": peak, "gemm_fp32_peak_per_core": core_peak,
               "fraction_of_core_fp32_peak_fp32": flops / o / 1e9 / core_peak,
               "fraction_of_core_fp32_peak_bf16": flops / ob / 1e9 / core_peak, "torch": torch.__version__}
        print(json.dumps(res, indent=2))
        print(f"SRGAN step, CPU s/step at 1 thread: keras peer {p:.2f}; srbench fp32 {o:.2f} ({p / o:.2f}x, "
              f"{100 * res['fraction_of_core_fp32_peak_fp32']:.0f}% of one core's fp32 GEMM peak); srbench bf16 "
              f"autocast {ob:.2f} ({p / ob:.2f}x)")
        if args.json:
            args.json.write_text(json.dumps(res, indent=2))
        return
    peer, fp32, bf16 = [], [], []
    for r in range(args.rounds):  # interleaved, so that load from other processes hits all alike
        peer.append(time_peer(args.steps))
        fp32.append(time_srbench(args.steps, channels_last=True))
        bf16.append(time_srbench(args.steps, channels_last=True, amp="bf16"))
        print(f"round {r}: keras peer {peer[-1]:.3f} s/step, srbench fp32 {fp32[-1]:.3f}, "
              f"srbench bf16 autocast {bf16[-1]:.3f}", flush=True)
    # min over rounds: interference from other processes only ever adds time
    p, o, ob = min(peer), min(fp32), min(bf16)
    flops = step_flops()
    peak = machine_peak()
    res = {"keras_peer_s_per_step": p, "srbench_fp32_s_per_step": o, "srbench_bf16_s_per_step": ob,
           "speedup_fp32": p / o, "speedup_bf16": p / ob, "step_gflop": flops / 1e9,
           "srbench_fp32_gflops_per_s": flops / o / 1e9, "srbench_bf16_gflops_per_s": flops / ob / 1e9,
           "gemm_fp32_peak_gflops_per_s": peak, "fraction_of_fp32_peak_fp32": flops / o / 1e9 / peak,
           "fraction_of_fp32_peak_bf16": flops / ob / 1e9 / peak, "threads": torch.get_num_threads(),
           "torch": torch.__version__, "rounds": args.rounds, "steps": args.steps, "channels_last": True}
    if args.variants:
        res["srbench_fp32_nchw_s_per_step"] = time_srbench(args.steps, channels_last=False)
    print(json.dumps(res, indent=2))
    print(f"SRGAN step: keras peer {p:.3f} s; srbench fp32 {o:.3f} s ({p / o:.2f}x, "
          f"{res['srbench_fp32_gflops_per_s']:.0f} GFLOP/s = {100 * res['fraction_of_fp32_peak_fp32']:.0f}% of the "
          f"{peak:.0f} GFLOP/s fp32 GEMM peak); srbench "
          f"bf16 autocast {ob:.3f} s ({p / ob:.2f}x, {100 * res['fraction_of_fp32_peak_bf16']:.0f}% of the fp32 peak); "
          f"{torch.get_num_threads()} threads")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
