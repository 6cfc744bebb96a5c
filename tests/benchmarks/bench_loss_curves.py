"""bf16 vs fp32 SRGAN training: the loss curves over 200 steps must match within a stated tolerance.

Two runs of srbench's own ``StepRunner`` (the SRGAN step of bench_training.py: G + D + VGG54 content loss
with random VGG weights, batch 16, 96 px HR), from the same initial weights on the same batches (smooth
synthetic images, a fixed generator seed), one in fp32 and one under bf16 autocast. For each loss
(``content``, ``loss_d``, ``loss_g``) the 20-step moving averages of the two curves are compared:

    tolerance: |bf16 - fp32| <= 10 % of the fp32 moving average at every point after the first 20 steps.

(bf16 keeps 8 mantissa bits, so single steps differ; a GAN's trajectories drift apart slowly, which the
moving average and the 10 % band allow, while a broken bf16 path, e.g. a loss that diverges or stalls,
leaves the band within a few dozen steps.)

    .venv/bin/python tests/benchmarks/bench_loss_curves.py [--steps 200] [--json OUT]

About 15 minutes on a quiet 2-core CPU (fp32 ~3 s/step, bf16 ~1.1 s/step); not part of CI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

WINDOW = 20
TOLERANCE = 0.10


def run(amp: str, steps: int, seed: int = 0) -> dict[str, list[float]]:
    import torch
    from gpu_check import synthetic_batch

    from srbench.training.config import load_config
    from srbench.training.step import StepRunner, build_networks, make_optimizer

    cfg = load_config(None, {"model": "srgan", "content_loss": "vgg54", "vgg_weights": "random", "crop": 96,
                             "batch": 16, "train_data": ["unused"], "seed": seed})
    G, D, content = build_networks(cfg)
    for m in (G, D, content):
        m.to(memory_format=torch.channels_last)
    G.train()
    D.train()
    runner = StepRunner(G, D, content, make_optimizer(G, cfg, cfg.lr), make_optimizer(D, cfg, cfg.lr),
                        adv_weight=cfg.adv_weight, device=torch.device("cpu"), amp=amp)
    gen = torch.Generator().manual_seed(seed)
    curves: dict[str, list[float]] = {}
    for _ in range(steps):
        lr, hr = synthetic_batch(16, 96, 4, "cpu", gen)
        for k, v in runner(lr, hr).items():
            curves.setdefault(k, []).append(float(v))
    return curves


def moving_average(x: Sequence[float], window: int = WINDOW) -> list[float]:
    return [sum(x[i - window:i]) / window for i in range(window, len(x) + 1)]


def compare(fp32: dict[str, list[float]], bf16: dict[str, list[float]], window: int = WINDOW,
            tolerance: float = TOLERANCE) -> dict[str, float]:
    """Largest relative gap of the moving averages, per loss."""
    out = {}
    for k in ("content", "loss_d", "loss_g"):
        a, b = moving_average(fp32[k], window), moving_average(bf16[k], window)
        out[k] = max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a, b, strict=True))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    t = time.time()
    fp32 = run("none", args.steps)
    t32 = time.time() - t
    t = time.time()
    bf16 = run("bf16", args.steps)
    t16 = time.time() - t
    gaps = compare(fp32, bf16)
    ok = all(g <= TOLERANCE for g in gaps.values())
    for k, g in gaps.items():
        print(f"{k}: fp32 {fp32[k][0]:.4f} -> {sum(fp32[k][-WINDOW:]) / WINDOW:.4f}, bf16 {bf16[k][0]:.4f} -> "
              f"{sum(bf16[k][-WINDOW:]) / WINDOW:.4f}; largest gap of the {WINDOW}-step moving averages {100 * g:.1f} %")
    print(f"{args.steps} steps: fp32 {t32:.0f} s, bf16 {t16:.0f} s; tolerance {100 * TOLERANCE:.0f} %: "
          f"{'MATCH' if ok else 'DIFFERENT'}")
    if args.json:
        args.json.write_text(json.dumps({"fp32": fp32, "bf16": bf16, "gaps": gaps, "ok": ok}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
