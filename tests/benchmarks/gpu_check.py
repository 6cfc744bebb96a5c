"""The GPU acceptance check of issue 13 (run by ``gpu_check.sh``; under 5 minutes on one GPU).

Sections, each independent (one failing does not stop the others; the exit status says whether all passed):

1. **CUDA event timing**: ``torch.cuda._sleep`` of a known number of cycles timed by srbench's timer (CUDA
   events + synchronize) against a host clock around a synchronised call; the two must agree within 25 %.
2. **Roofline**: best of cuBLAS GEMM shapes in fp32 (TF32 as cuDNN uses it), bf16 and fp16
   (:func:`srbench.perf.peak.measure_roofline`), and the copy bandwidth.
3. **SRResNet x4 throughput** at 256x256 and 512x512 LR, batch 16, in fp32, bf16 and fp16 (channels_last,
   autocast), and the fused plan in bf16; fraction of the matching roofline.
4. **torch.compile** of the same network at 256x256 batch 16 (bf16).
5. **Training**: 300 SRResNet x4 steps (pixel MSE, Adam 2e-4, batch 16, 96 px HR crops of smooth
   synthetic images: the machine has no datasets) through srbench's own ``StepRunner`` with bf16 autocast;
   the mean loss of the last 30 steps must be below 0.7 of the first 30.

    python tests/benchmarks/gpu_check.py [--device cuda] [--quick] [--out DIR] [--skip SECTIONS]
    python tests/benchmarks/gpu_check.py --device cpu --smoke --out DIR    # the whole flow, tiny, on a CPU

``--smoke`` runs every section at toy sizes (16x16 LR, batch 2, a 1-block SRResNet, 80 training steps,
fp32 and bf16) so that the script itself is tested end to end where no GPU is (``tests/perf``); the event
timing section needs CUDA and is skipped off a GPU.

Writes ``DIR/gpu_check.md`` (the table for the README) and ``DIR/gpu_check.json``. Every piece takes its
measuring functions as arguments, so ``tests/perf/test_gpu_check.py`` drives it on a CPU with fakes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SIZES = ((256, 256), (512, 512))
BATCH = 16
DTYPES = ("fp32", "bf16", "fp16")


def event_timing_check(device: str, ms: float = 20.0, *, sleep: Callable[[float], None] | None = None,
                       clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """srbench's event timing of a ``ms`` GPU sleep vs a host clock around a synchronised call."""
    import torch

    from srbench.perf.timing import synchronize, time_callable

    if sleep is None:
        cycles_per_ms = torch.cuda.get_device_properties(torch.device(device)).clock_rate  # kHz

        def sleep(t: float) -> None:
            torch.cuda._sleep(int(t * cycles_per_ms))

    events = time_callable(lambda: sleep(ms), device=device, warmup=1, iters=5, clock=clock)
    host = []
    for _ in range(5):
        t0 = clock()
        sleep(ms)
        synchronize(device)
        host.append((clock() - t0) * 1e3)
    ev, ho = sorted(events)[2], sorted(host)[2]
    ok = ho > 0 and abs(ev - ho) / ho <= 0.25
    return {"section": "event timing", "events_ms": ev, "host_ms": ho, "ok": bool(ok),
            "note": f"{ms} ms GPU sleep: events {ev:.2f} ms, host+sync {ho:.2f} ms"}


def roofline_rows(device: str, dtypes: Sequence[str] = DTYPES,
                  measure: Callable[..., Any] | None = None) -> list[dict[str, Any]]:
    """One row per dtype: the measured GEMM ceiling, its method, the copy bandwidth."""
    from srbench.perf.peak import measure_roofline

    measure = measure or measure_roofline
    rows = []
    for i, d in enumerate(dtypes):
        r = measure(device, d, bandwidth=(i == 0))
        rows.append({"section": "roofline", "dtype": d, "peak_gflops_per_s": r.peak_gflops_per_s,
                     "method": r.peak_method, "bandwidth_gb_per_s": r.bandwidth_gb_per_s, "record": r.record(),
                     "ok": r.peak_gflops_per_s > 0})
    return rows


def srresnet_rows(device: str, *, sizes: Sequence[tuple[int, int]] = SIZES, batch: int = BATCH,
                  dtypes: Sequence[str] = DTYPES, peaks: dict[str, float] | None = None, compile: bool = False,
                  fused: bool = False, bench: Callable[..., Any] | None = None, model: Any = None,
                  iters: int = 5) -> list[dict[str, Any]]:
    """SRResNet x4 throughput rows (benchmark_model) at ``sizes`` x ``dtypes``, batch ``batch``."""
    from srbench.perf.bench import benchmark_model

    bench = bench or benchmark_model
    if model is None:
        from srbench.models.archs.srresnet import SRResNet

        model = SRResNet(4)
    rows = []
    for d in dtypes:
        out = bench(model, scale=4, sizes=tuple(sizes), batch=batch, dtype=d, device=device, channels_last=True,
                    compile=compile, fused=fused, warmup=2, iters=iters, peak_gflops=(peaks or {}).get(d),
                    measure_roofline=False)
        for r in out:
            rows.append({"section": "compile" if compile else ("fused" if fused else "srresnet"), "dtype": d,
                         "input": r.input, "batch": r.batch, "ms_per_image": r.ms_median,
                         "images_per_s": r.images_per_s, "mpix_per_s": r.mpix_per_s,
                         "tflops": None if r.achieved_gflops_per_s is None else r.achieved_gflops_per_s / 1e3,
                         "of_peak": r.peak_fraction, "peak_mem_mb": r.peak_mem_mb, "note": r.note,
                         "ok": r.ms_median == r.ms_median and r.ms_median > 0})
    return rows


def synthetic_batch(batch: int, crop: int, scale: int, device: str, gen: Any) -> tuple[Any, Any]:
    """(lr [0, 1], hr [-1, 1]): smooth random images (bicubic-upsampled noise) and their area-downscaled LR."""
    import torch
    import torch.nn.functional as F

    base = torch.rand(batch, 3, crop // 8, crop // 8, generator=gen)
    hr = F.interpolate(base, size=(crop, crop), mode="bicubic", align_corners=False).clamp(0, 1)
    lr = F.avg_pool2d(hr, scale)
    return lr.to(device).contiguous(memory_format=torch.channels_last), \
        (hr * 2 - 1).to(device).contiguous(memory_format=torch.channels_last)


def train_srresnet(device: str, *, steps: int = 300, batch: int = BATCH, crop: int = 96, n_blocks: int = 16,
                   lr: float = 2e-4, amp: str = "bf16", seed: int = 0) -> list[float]:
    """Losses of ``steps`` SRResNet x4 MSE steps through srbench's StepRunner (fresh batch each step)."""
    import torch

    from srbench.models.archs.srresnet import SRResNet
    from srbench.training.step import StepRunner

    torch.manual_seed(seed)
    G = SRResNet(4, n_blocks=n_blocks).to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(G.parameters(), lr=lr, fused=True)
    runner = StepRunner(G, None, None, opt, None, adv_weight=0.0, device=torch.device(device), amp=amp)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        lr_b, hr_b = synthetic_batch(batch, crop, 4, device, gen)
        losses.append(float(runner(lr_b, hr_b)["loss_g"]))
    return losses


def loss_lowered(losses: Sequence[float], window: int = 30, factor: float = 0.7) -> bool:
    """Whether the mean of the last ``window`` losses is below ``factor`` x the mean of the first ``window``."""
    if len(losses) < 2 * window:
        raise ValueError(f"need at least {2 * window} losses, got {len(losses)}")
    first = sum(losses[:window]) / window
    last = sum(losses[-window:]) / window
    return last < factor * first


def markdown(rows: Sequence[dict[str, Any]], device_name: str) -> str:
    """The README table: roofline rows, then throughput rows, then the training verdict."""
    out = [f"GPU check on {device_name}", "",
           "| section | dtype | input | batch | ms/image | img/s | TFLOP/s | of peak | note |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def f(v: Any, spec: str) -> str:
        return "-" if v is None or v != v else format(v, spec)

    for r in rows:
        if r["section"] == "roofline":
            bw = f" (copy {f(r['bandwidth_gb_per_s'], '.0f')} GB/s)" if r.get("bandwidth_gb_per_s") else ""
            out.append(f"| roofline | {r['dtype']} | - | - | - | - | {f(r['peak_gflops_per_s'] / 1e3, '.1f')} | 1.00 | "
                       f"{r['method']}{bw} |")
        elif r["section"] in ("srresnet", "fused", "compile"):
            out.append(f"| SRResNet x4 {r['section']} | {r['dtype']} | {r['input']} | {r['batch']} | "
                       f"{f(r['ms_per_image'], '.2f')} | {f(r['images_per_s'], '.1f')} | {f(r['tflops'], '.1f')} | "
                       f"{f(r['of_peak'], '.2f')} | {r.get('note', '')} |")
        else:
            out.append(f"| {r['section']} | - | - | - | - | - | - | - | {r.get('note', '')} "
                       f"({'ok' if r['ok'] else 'FAILED'}) |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="fewer iterations and 100 training steps")
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--smoke", action="store_true", help="toy sizes: the whole flow in seconds, e.g. on a CPU")
    ap.add_argument("--skip", default="", help="comma-separated sections to leave out (e.g. compile)")
    args = ap.parse_args(argv)
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    import torch

    from srbench.perf.env import describe_device

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 2
    torch.backends.cudnn.benchmark = True
    name = describe_device(args.device)
    print(f"{name}, torch {torch.__version__}, cuda {torch.version.cuda}", flush=True)
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    t0 = time.time()

    def section(label: str, fn: Callable[[], list[dict[str, Any]]]) -> None:
        if label in skip:
            print(f"[{label}] skipped (--skip)", flush=True)
            return
        s = time.time()
        try:
            got = fn()
        except Exception as exc:
            traceback.print_exc()
            got = [{"section": label, "ok": False, "note": f"{type(exc).__name__}: {exc}"}]
        rows.extend(got)
        bad = [r for r in got if not r.get("ok")]
        if bad:
            failed.append(label)
        print(f"[{label}] {len(got)} rows, {'FAILED' if bad else 'ok'} ({time.time() - s:.0f} s)", flush=True)
        for r in got:
            print("   ", {k: v for k, v in r.items() if k != "record"}, flush=True)

    iters = 1 if args.smoke else (3 if args.quick else 5)
    sizes, batch, dtypes, model = SIZES, BATCH, DTYPES, None
    train_kw: dict[str, Any] = {"steps": 100 if args.quick else 300}
    if args.smoke:
        from srbench.models.archs.srresnet import SRResNet

        sizes, batch, dtypes, model = ((16, 16),), 2, ("fp32", "bf16"), SRResNet(4, n_blocks=1)
        train_kw = {"steps": 80, "batch": 2, "crop": 16, "n_blocks": 1, "amp": "none", "lr": 3e-3}
    kw = {"sizes": sizes, "batch": batch, "model": model, "iters": iters}
    if args.device.startswith("cuda"):
        section("event timing", lambda: [event_timing_check(args.device)])
    else:
        print("[event timing] skipped: needs a CUDA device", flush=True)
    section("roofline", lambda: roofline_rows(args.device, dtypes=dtypes))
    peaks = {r["dtype"]: r["peak_gflops_per_s"] for r in rows if r["section"] == "roofline"}
    section("srresnet", lambda: srresnet_rows(args.device, peaks=peaks, dtypes=dtypes, **kw))
    section("fused", lambda: srresnet_rows(args.device, dtypes=("bf16",), peaks=peaks, fused=True, **kw))
    section("compile", lambda: srresnet_rows(args.device, dtypes=("bf16",), peaks=peaks, compile=True,
                                             **{**kw, "sizes": sizes[:1]}))

    def training() -> list[dict[str, Any]]:
        steps = train_kw["steps"]
        s = time.time()
        losses = train_srresnet(args.device, **train_kw)
        w = min(30, steps // 4)
        ok = loss_lowered(losses, window=w, factor=0.8 if args.smoke else 0.7)
        what = "smoke: b2, 16 px, 1 block, fp32" if args.smoke else "b16, 96 px, bf16 autocast"
        return [{"section": "training", "ok": ok, "losses": losses,
                 "note": f"{steps} SRResNet x4 steps ({what}) in {time.time() - s:.0f} s: loss "
                         f"{sum(losses[:w]) / w:.4f} (first {w}) -> {sum(losses[-w:]) / w:.4f} (last {w})"}]

    section("training", training)
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, name)
    (args.out / "gpu_check.md").write_text(table)
    (args.out / "gpu_check.json").write_text(json.dumps({"device": name, "rows": rows, "failed": failed}, indent=1,
                                                        default=str))
    print(table)
    print(f"total {time.time() - t0:.0f} s; {'all sections passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
