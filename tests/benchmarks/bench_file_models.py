"""Overhead of ``file:`` adapters: per-image time of ``adapter.upscale`` vs calling the network directly.

In one run, for each architecture of tests/models/tiny_nets.py (random weights, spandrel's classes; EDSR is
srbench's), saved to a file and loaded through ``file:PATH``: ``--iters``
pairs of calls: the network called directly (``adapter.module(x)`` under ``torch.inference_mode``: the spandrel-built
network, inside the pad/crop wrapper for networks with size requirements) and ``adapter.upscale(x)``
back to back, in alternating order. Shared machines drift; what holds is the ratio of measurements taken
milliseconds apart, so the figure is the median over pairs of (adapter / direct - 1); also printed: best adapter call /
best direct call - 1, and the adapter's fixed cost per call (``upscale`` around ``nn.Identity``, best of 5 x 2000
calls) as a fraction of the direct time, the estimate least sensitive to machine load. Target:
overhead < 2 %. The direct RCAN call gets a copy of the input (spandrel's RCAN scales its input in place;
the adapter copies it too), so both sides do the same work.

    python tests/benchmarks/bench_file_models.py [--size 64] [--iters 60] [--threads 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from srbench.registry import get_model  # noqa: E402
from tests.models import tiny_nets  # noqa: E402


def _paired(direct, adapter, x: torch.Tensor, iters: int) -> tuple[float, float, float]:  # noqa: ANN001
    """Median direct s, median adapter s, median of the per-pair ratios adapter / direct - 1.

    Calls alternate one by one (direct, adapter, adapter, direct, ...), so that both sides of each pair see
    the same machine load."""
    with torch.inference_mode():
        direct(x), adapter(x)  # warm-up
        d_t, a_t, ratios = [], [], []
        for i in range(iters):
            order = ((direct, d_t), (adapter, a_t)) if i % 2 == 0 else ((adapter, a_t), (direct, d_t))
            got = []
            for fn, acc in order:
                t0 = time.perf_counter()
                fn(x)
                dt = time.perf_counter() - t0
                acc.append(dt)
                got.append(dt)
            ratios.append(a_t[-1] / d_t[-1] - 1.0)
    return statistics.median(d_t), statistics.median(a_t), statistics.median(ratios), min(a_t) / min(d_t) - 1.0


def fixed_overhead_us(size: int = 64, number: int = 2000) -> float:
    """The adapter's own cost per call (checks, device move, input copy, inference_mode): ``upscale`` of a
    FileModel around ``nn.Identity``, best of 5 x ``number`` calls (the best is robust to machine load)."""
    import timeit

    from srbench.interfaces import ModelInfo
    from srbench.models.files.checkpoint import FileModel

    m = FileModel("identity", 1, torch.nn.Identity(), device="cpu", info=ModelInfo("identity"))
    x = torch.rand(1, 3, size, size)
    return min(timeit.repeat(lambda: m.upscale(x), number=number, repeat=5)) / number * 1e6


def measure(size: int = 64, iters: int = 60) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        for name in tiny_nets.ARCHS:
            net = tiny_nets.make(name)
            path = tiny_nets.save(net, Path(d) / f"{name}.safetensors")
            adapter = get_model(f"file:{path}", 4)
            mod = adapter.module  # the network as loaded (in PadCrop when it has size requirements)
            direct = (lambda t, n=mod: n(t.clone())) if name == "rcan" else mod
            x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
            d_s, a_s, ratio, best = _paired(direct, adapter.upscale, x, iters)
            out[name] = {"direct_ms": d_s * 1e3, "adapter_ms": a_s * 1e3, "overhead_pct": 100 * ratio,
                         "overhead_best_pct": 100 * best}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="LR side (pixels)")
    ap.add_argument("--iters", type=int, default=60, help="pairs of calls per architecture")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = measure(args.size, args.iters)
    print(f"file: adapter overhead, x4, {args.size}x{args.size} LR, {torch.get_num_threads()} threads, "
          f"medians of {args.iters} paired calls")
    fixed = fixed_overhead_us(args.size)
    print(f"{'architecture':<14}{'direct ms':>11}{'file: ms':>11}{'overhead':>10}{'best/best':>11}{'fixed/direct':>14}")
    for name, r in res.items():
        r["fixed_over_direct_pct"] = 100 * fixed / (r["direct_ms"] * 1e3)
        print(f"{name:<14}{r['direct_ms']:>11.3f}{r['adapter_ms']:>11.3f}{r['overhead_pct']:>9.2f}%"
              f"{r['overhead_best_pct']:>10.2f}%{r['fixed_over_direct_pct']:>13.3f}%")
    print(f"fixed cost of upscale around nn.Identity: {fixed:.1f} us per call (best of 5)")
    res["fixed_overhead_us"] = {"value": fixed}
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
