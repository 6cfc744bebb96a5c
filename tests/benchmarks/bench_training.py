"""SRGAN training step: srbench (PyTorch) vs the seed article's TensorFlow/Keras peer, side by side.

The step is the paper's: batch 16, 96x96 HR crops (24x24 LR, x4), generator + discriminator updates,
VGG19 phi_5,4 content loss with RANDOM VGG weights (same cost as ImageNet weights, which are not
available offline) and 1e-3 adversarial loss. srbench's step is the trainer's own StepRunner.

Also reports the fraction of this machine's fp32 GEMM peak (``../shared/bench/machine_peak.py``, same run)
that srbench's step reaches: step FLOPs counted by ``torch.utils.flop_counter`` / step time / peak.

    .venv/bin/python tests/benchmarks/bench_training.py [--steps 3] [--rounds 2] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "bench"


def srbench_runner(channels_last: bool, compile: bool = False, amp: str = "none"):
    from srbench.training.config import load_config
    from srbench.training.step import StepRunner, build_networks, make_optimizer

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
    ap.add_argument("--rounds", type=int, default=2, help="alternating peer/srbench rounds (median reported)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--variants", action="store_true", help="also time channels_last and bf16 autocast")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peer, ours = [], []
    for r in range(args.rounds):  # interleaved, so that load from other processes hits both alike
        peer.append(time_peer(args.steps))
        ours.append(time_srbench(args.steps, channels_last=False))
        print(f"round {r}: keras peer {peer[-1]:.3f} s/step, srbench {ours[-1]:.3f} s/step", flush=True)
    p, o = statistics.median(peer), statistics.median(ours)
    flops = step_flops()
    peak = machine_peak()
    res = {"keras_peer_s_per_step": p, "srbench_s_per_step": o, "speedup": p / o, "step_gflop": flops / 1e9,
           "srbench_gflops_per_s": flops / o / 1e9, "gemm_peak_gflops_per_s": peak,
           "fraction_of_peak": flops / o / 1e9 / peak, "threads": torch.get_num_threads(),
           "torch": torch.__version__, "rounds": args.rounds, "steps": args.steps}
    if args.variants:
        res["srbench_channels_last_s_per_step"] = time_srbench(args.steps, channels_last=True)
        res["srbench_bf16_autocast_s_per_step"] = time_srbench(args.steps, channels_last=False, amp="bf16")
    print(json.dumps(res, indent=2))
    print(f"srbench SRGAN step {o:.3f} s vs keras peer {p:.3f} s: {p / o:.2f}x faster; "
          f"{res['srbench_gflops_per_s']:.1f} GFLOP/s = {100 * res['fraction_of_peak']:.1f}% of the "
          f"{peak:.1f} GFLOP/s fp32 GEMM peak ({torch.get_num_threads()} threads)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
