"""The timed pass: how fast a model runs, measured the way the field's efficiency challenges do.

docs/protocol.md, "Throughput measurement": time the forward pass only, with the input already on the device,
after warm-up; on a GPU with CUDA events and ``torch.cuda.synchronize()``, on a CPU with a host clock. Host<->device
transfers are timed separately (``h2d_ms``, ``d2h_ms``) and never enter ``ms_median``. FLOPs are counted
with ``torch.utils.flop_counter`` (:mod:`srbench.perf.flops`) at a 256x256 LR input (``gflops``) and at
the timed size (for ``achieved_gflops_per_s``). The roofline (:mod:`srbench.perf.peak`) is measured once
per run: the compute ceiling in the dtype timed and the memory bandwidth. Each row names its bound:
``compute`` when the model's arithmetic intensity (FLOPs per byte of input + output) is above the
roofline's ridge point, ``memory`` otherwise or when there are no FLOPs to count (bicubic), and
``bound_fraction`` is the achieved rate over that ceiling. A fraction above 1 means the ceiling was
disturbed (or the FLOP count misses work): it is never reported; the row says so in ``note`` instead.
A ceiling measured once can be wrong for a later model (another process took the cores): :func:`run_bench`
measures it again in short bursts before and after each model and marks that model's rows
``peak_reliable`` False, with the figures in ``note``, when the machine was busy.

Each cell (a model at an input size, or over a dataset's images) is timed adaptively
(:func:`srbench.perf.timing.time_adaptive`): until the median's 95 % interval is within +-2 % or the
cell's budget is spent; the interval and the number of calls are columns of the row.

Peak memory: ``torch.cuda.max_memory_allocated`` on GPU (weights + activations, MiB). On CPU there is no
allocator high-water mark to read, so ``peak_mem_mb`` is left empty rather than guessed from RSS.
"""

from __future__ import annotations

import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from srbench.interfaces import ModelError, SRBenchError, SRModel
from srbench.perf.env import environment
from srbench.perf.flops import FLOPS_LR_SIZE, count_flops
from srbench.perf.peak import (
    DTYPES,
    CeilingCheck,
    Roofline,
    ceiling_burst,
    check_ceilings,
    measure_roofline,
    reference_ceiling,
    torch_dtype,
)
from srbench.perf.prepare import PreparedModel, compile_context, prepare_model, run_context
from srbench.perf.table import COLUMNS, REQUIRED_COLUMNS, ThroughputRow, rows_to_frame, write_throughput_csv
from srbench.perf.timing import BUDGET_S, AdaptiveTiming, Clock, is_cuda, percentile, time_adaptive, time_callable
from srbench.pipeline import to_tensor
from srbench.registry import get_model

if TYPE_CHECKING:
    import pandas as pd
    import torch

__all__ = ["DTYPES", "FLOPS_LR_SIZE", "REQUIRED_COLUMNS", "COLUMNS", "ThroughputRow", "BenchOptions", "BenchJob",
           "TimingImages", "BenchError", "BenchResult", "benchmark_model", "benchmark_pairs",
           "throughput_vs_batch", "run_bench", "jobs_for", "jobs_from_built"]

@dataclass(frozen=True)
class BenchOptions:
    """How every job of a :func:`run_bench` pass is timed.

    ``sizes``: LR (height, width) inputs of random content; ``batches``: a throughput-vs-batch sweep at
    the first size (empty: none). Each cell is timed adaptively (:func:`srbench.perf.timing.time_adaptive`):
    ``warmup`` None: until two consecutive calls agree within 10 %, else that many calls; ``iters`` None:
    until the median's 95 % interval is within +-2 % or ``budget_s`` is spent (at least 3 calls), else
    exactly that many. ``ceilings``: check the compute ceiling before and after each model
    (:func:`srbench.perf.peak.check_ceilings`).
    """

    sizes: tuple[tuple[int, int], ...] = ((64, 64), (128, 128), (256, 256))
    batch: int = 1
    dtype: str = "fp32"
    device: str = "cpu"
    channels_last: bool = False
    compile: bool = False
    fused: bool = False
    warmup: int | None = None
    iters: int | None = None
    budget_s: float = BUDGET_S
    batches: tuple[int, ...] = ()
    ceilings: bool = True

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.batch < 1 or any(b < 1 for b in self.batches):
            raise ValueError(f"batch sizes must be >= 1, got batch {self.batch} and sweep {self.batches}")
        if not self.sizes or any(h < 1 or w < 1 for h, w in self.sizes):
            raise ValueError(f"sizes must name positive (height, width) LR sizes, got {self.sizes}")
        if not self.budget_s >= 0:
            raise ValueError(f"the time budget must be >= 0 seconds, got {self.budget_s}")


@dataclass(frozen=True)
class BenchJob:
    """One model at one scale. ``model``: a built SRModel or torch module, or None to build ``name`` from
    the registry (``get_model(name, scale, device=..., **build_options)``) when the job runs."""

    name: str
    scale: int
    model: Any = None
    build_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise ValueError(f"{self.name}: scale must be >= 1, got {self.scale}")


@dataclass(frozen=True)
class TimingImages:
    """A dataset's real LR images (uint8 HWC) at one scale, timed one by one (batch 1)."""

    dataset: str
    scale: int
    lr: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class BenchError:
    """A job that could not be built or timed; ``str()`` is the sentence for the user."""

    model: str
    scale: int
    message: str

    def __str__(self) -> str:
        return f"{self.model} x{self.scale}: {self.message}"


@dataclass(frozen=True, eq=False)
class BenchResult:
    """What :func:`run_bench` returns: the throughput table, the jobs that failed, the roofline used."""

    frame: pd.DataFrame
    errors: tuple[BenchError, ...]
    roofline: Roofline | None

    def record(self, *, budget_s: float, seconds: float) -> dict[str, Any]:
        """The timed pass's entry of run.json (``throughput``): the device, the ceiling, each cell's median and
        the pass's own wall time."""
        table = self.frame
        first = table.iloc[0]
        return {
            "file": "throughput.csv",
            "device_name": str(first.get("device_name", "")),
            "threads": int(first["threads"]) if "threads" in table and first["threads"] == first["threads"] else None,
            "peak_gflops_per_s": float(first["peak_gflops_per_s"]),
            "timing": "forward pass only, warm-up excluded, input on the device; CUDA events on GPU, perf_counter on "
                      "CPU; each cell until the median's 95 % interval is within +-2 % or its time budget is spent",
            "time_budget_s": budget_s,
            "seconds": round(seconds, 3),
            "median_ms": {f"{r.model} x{r.scale} {r.input}": float(r.ms_median) for r in table.itertuples()},
            "roofline": self.roofline.record() if self.roofline else None,
        }


def jobs_for(names: Sequence[str], scales: Sequence[int],
             build_options: Mapping[str, Mapping[str, Any]] | None = None) -> list[BenchJob]:
    """Registry-built jobs: every name at every scale (``build_options[name]``, e.g. weights, when given)."""
    if not names:
        raise ValueError("no models to benchmark")
    if not scales:
        raise ValueError("no scales to benchmark")
    opts = build_options or {}
    return [BenchJob(n, int(s), build_options=dict(opts.get(n, {}))) for n in names for s in scales]


def jobs_from_built(built: Mapping[int, Mapping[str, Any]], scales: Sequence[int] | None = None) -> list[BenchJob]:
    """Jobs for already built adapters, ``{scale: {name: model}}`` (the evaluate loop's)."""
    return [BenchJob(str(name), int(sc), model=m) for sc, table in built.items() for name, m in table.items()
            if scales is None or int(sc) in scales]


# ------------------------------------------------------------------------------------------ the rows

def _check_common(scale: int, batch: int, dtype: str, device: str) -> None:
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    torch_dtype(dtype)
    if is_cuda(device):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")


def _ceiling(rate: float | None, ceiling: float | None, what: str, notes: list[str]) -> float | None:
    """rate / ceiling, or None (with a note) when there is none or the rate is above it."""
    if rate is None or not ceiling:
        return None
    frac = rate / ceiling
    if frac > 1.0:
        notes.append(f"achieved {rate:.4g} exceeds the measured {what} ceiling {ceiling:.4g}: the ceiling "
                     "measurement was disturbed or the count misses work; fraction not reported")
        return None
    return frac


def _roofline_columns(achieved: float | None, bytes_io: float, s: float, roofline: Roofline | None,
                      peak: float | None, flops: float | None, notes: list[str]) -> dict[str, Any]:
    """peak_fraction, achieved_gb_per_s, bandwidth_gb_per_s, bound, bound_fraction."""
    peak_fraction = _ceiling(achieved, peak, "compute", notes)
    gbps = bytes_io / s / 1e9 if s > 0 else None
    bw = roofline.bandwidth_gb_per_s if roofline is not None else None
    ridge = (peak / bw) if (peak and bw) else None
    if flops is None:
        bound = "memory" if bw else ""
    elif ridge is not None and bytes_io > 0 and flops / bytes_io < ridge:
        bound = "memory"
    else:
        bound = "compute" if peak else ""
    if bound == "memory":
        bound_fraction = _ceiling(gbps, bw, "bandwidth", notes)
    else:
        bound_fraction = peak_fraction if bound else None
    return {"peak_fraction": peak_fraction, "achieved_gb_per_s": gbps, "bandwidth_gb_per_s": bw,
            "bound": bound, "bound_fraction": bound_fraction}


def _judged(note: str, where: str, achieved: float | None, bytes_io: float, s: float, roofline: Roofline | None,
            peak: float | None, flops: float | None) -> tuple[dict[str, Any], str]:
    """(roofline columns, the row's note): a rate above its ceiling adds a sentence and a warning."""
    notes = [note] if note else []
    cols = _roofline_columns(achieved, bytes_io, s, roofline, peak, flops, notes)
    for n in notes[1 if note else 0:]:
        warnings.warn(f"{where}: {n}", stacklevel=4)
    return cols, "; ".join(notes)


def _row(prep: PreparedModel, *, scale: int, h: int | None, w: int | None, batch: int, dtype: str, device: str,
         per_image_ms: Sequence[float], out_pixels: float, flops_timed: float | None, gflops_256: float | None,
         peak: float | None, roofline: Roofline | None, bytes_io: float, peak_mem_mb: float | None,
         h2d_ms: float | None, d2h_ms: float | None, input_name: str, env: Mapping[str, Any],
         timing: AdaptiveTiming | None = None, per: int = 1) -> ThroughputRow:
    """One row; ``timing`` (its times divided by ``per``, the batch) gives the median, its interval and the
    call counts (without it, ``per_image_ms`` alone)."""
    ms_median = timing.median_ms / per if timing is not None else statistics.median(per_image_ms)
    ms_p90 = percentile(per_image_ms, 90)
    s = ms_median / 1e3
    achieved = flops_timed / s / 1e9 if (flops_timed is not None and s > 0) else None
    base = prep.note
    if timing is not None and not timing.settled:
        unsettled = (f"warm-up did not settle (no two consecutive calls within 10 % in {timing.warmup_rounds}"
                     " calls): timed from there")
        base = f"{base}; {unsettled}" if base else unsettled
    cols, note = _judged(base, f"{prep.name} x{scale} {input_name}", achieved, bytes_io, s, roofline, peak,
                         flops_timed)
    if timing is not None:
        cols.update(n_calls=timing.n_calls, n_warmup=timing.warmup_rounds, timing_stop=timing.stop,
                    ci_low_ms=None if timing.ci_low_ms is None else timing.ci_low_ms / per,
                    ci_high_ms=None if timing.ci_high_ms is None else timing.ci_high_ms / per)
    return ThroughputRow(
        model=prep.name, scale=scale, lr_height=h, lr_width=w, batch=batch, dtype=dtype, device=device,
        ms_median=ms_median, ms_p90=ms_p90, images_per_s=1.0 / s if s > 0 else math.inf,
        mpix_per_s=out_pixels / 1e6 / s if s > 0 else math.inf,
        params=prep.params,
        gflops=gflops_256, achieved_gflops_per_s=achieved, peak_gflops_per_s=peak,
        peak_mem_mb=peak_mem_mb, h2d_ms=h2d_ms, d2h_ms=d2h_ms, threads=env["threads"],
        channels_last=prep.channels_last, compile=prep.compiled, fused=prep.fused,
        cudnn_benchmark=env["cudnn_benchmark"], torch=env["torch"], cuda=env["cuda"],
        device_name=env["device_name"], input=input_name, n_timed=len(per_image_ms), note=note, **cols,
    )


def _flops_per_image(prep: PreparedModel, h: int, w: int, device: str) -> int | None:
    if prep.module is None:
        return None
    return count_flops(prep.module, (1, 3, h, w), device=device)


def _io_bytes(h: int, w: int, scale: int) -> float:
    """float32 bytes of one RGB LR input and its SR output."""
    return 4.0 * 3 * h * w * (1 + scale * scale)


def _transfer_ms(x_host: torch.Tensor, y_dev: torch.Tensor, device: str) -> tuple[float | None, float | None]:
    """Median ms of copying the input to the GPU (from pinned memory) and the output back."""
    if not is_cuda(device):
        return None, None
    import torch

    src = x_host.pin_memory()
    dst = torch.empty_like(y_dev, device="cpu").pin_memory()
    h2d = time_callable(lambda: src.to(device, non_blocking=True), device=device, warmup=1, iters=5)
    d2h = time_callable(lambda: dst.copy_(y_dev, non_blocking=True), device=device, warmup=1, iters=5)
    return statistics.median(h2d), statistics.median(d2h)


def _resolve_roofline(roofline: Roofline | None, peak_gflops: float | None, measure: bool, device: str,
                      dtype: str) -> tuple[Roofline | None, float | None]:
    """(roofline, compute ceiling): an explicit ``peak_gflops`` wins, else the roofline's, else measured now."""
    if roofline is None and peak_gflops is None and measure:
        roofline = measure_roofline(device, dtype)
    if peak_gflops is None and roofline is not None:
        peak_gflops = roofline.peak_gflops_per_s
    return roofline, peak_gflops


def benchmark_model(model: SRModel | torch.nn.Module, *, scale: int,
                    sizes: Sequence[tuple[int, int]] = ((64, 64), (128, 128), (256, 256)), batch: int = 1,
                    dtype: str = "fp32", device: str = "cpu", channels_last: bool = False,
                    compile: bool = False, fused: bool = False, warmup: int | None = None,
                    iters: int | None = None, budget_s: float = BUDGET_S, peak_gflops: float | None = None,
                    roofline: Roofline | None = None, measure_roofline: bool = True, flops: bool = True,
                    clock: Clock = time.perf_counter) -> list[ThroughputRow]:
    """Time ``model`` on random LR inputs of each (height, width) in ``sizes``; one row per size.

    The input (``batch`` x 3 x h x w, uniform [0, 1], float32) is created on ``device`` before timing.
    ``dtype`` fp16/bf16 runs under autocast. The compute ceiling: ``peak_gflops`` when given, else the
    ``roofline``'s, else one measured now (:func:`srbench.perf.peak.measure_roofline`; skipped when
    ``measure_roofline`` is False). ``flops=False`` skips the FLOP count (then ``gflops``/``achieved`` are
    empty). Out-of-memory at one size gives a row with NaN times and the error in ``note`` instead of
    stopping the sweep. ``clock`` is the host clock (tests inject a fake one). Timing: ``warmup``, ``iters``
    and ``budget_s`` as in :class:`BenchOptions`.
    """
    import torch

    _check_common(scale, batch, dtype, device)
    if not sizes:
        raise ValueError("sizes must name at least one (height, width)")
    prep = prepare_model(model, device=device, channels_last=channels_last, compile=compile, fused=fused,
                         dtype=dtype)
    env = environment(device)
    roofline, peak_gflops = _resolve_roofline(roofline, peak_gflops, measure_roofline, device, dtype)
    gflops_256 = None
    if flops and prep.module is not None:
        gflops_256 = _flops_per_image(prep, *FLOPS_LR_SIZE, device) / 1e9
    rows = []
    for h, w in sizes:
        if h < 1 or w < 1:
            raise ValueError(f"LR size must be positive, got {h}x{w}")
        gen = torch.Generator(device="cpu").manual_seed(0)
        x_host = torch.rand(batch, 3, h, w, generator=gen)
        x = x_host.to(device)
        if prep.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        peak_mem = None
        try:
            if is_cuda(device):
                torch.cuda.reset_peak_memory_stats(device)
            with run_context(device, dtype), compile_context(prep.compiled, device):
                timing = time_adaptive([lambda x=x: prep.fn(x)], device=device, warmup=warmup, iters=iters,
                                       budget_s=budget_s, clock=clock)
                out = prep.fn(x) if is_cuda(device) else None  # for the transfer times (cheap on a GPU)
            if is_cuda(device):
                peak_mem = torch.cuda.max_memory_allocated(device) / 2**20
            h2d, d2h = _transfer_ms(x_host, out, device) if out is not None else (None, None)
        except torch.OutOfMemoryError as exc:
            warnings.warn(f"{prep.name} x{scale} {h}x{w} batch {batch}: out of memory ({exc})", stacklevel=2)
            rows.append(_oom_row(prep, scale, h, w, batch, dtype, device, env, gflops_256, peak_gflops, exc))
            continue
        flops_img = _flops_per_image(prep, h, w, device) if flops else None
        rows.append(_row(
            prep, scale=scale, h=h, w=w, batch=batch, dtype=dtype, device=device,
            per_image_ms=[t / batch for t in timing.all_ms], out_pixels=h * w * scale * scale,
            flops_timed=flops_img, gflops_256=gflops_256, peak=peak_gflops, roofline=roofline,
            bytes_io=_io_bytes(h, w, scale), peak_mem_mb=peak_mem,
            h2d_ms=None if h2d is None else h2d / batch, d2h_ms=None if d2h is None else d2h / batch,
            input_name=f"{h}x{w}", env=env, timing=timing, per=batch,
        ))
    return rows


def _oom_row(prep: PreparedModel, scale: int, h: int, w: int, batch: int, dtype: str, device: str,
             env: Mapping[str, Any], gflops_256: float | None, peak: float | None, exc: Exception) -> ThroughputRow:
    nan = math.nan
    return ThroughputRow(
        model=prep.name, scale=scale, lr_height=h, lr_width=w, batch=batch, dtype=dtype, device=device,
        ms_median=nan, ms_p90=nan, images_per_s=nan, mpix_per_s=nan,
        params=prep.params, gflops=gflops_256,
        achieved_gflops_per_s=None, peak_gflops_per_s=peak, peak_fraction=None, threads=env["threads"],
        channels_last=prep.channels_last, compile=prep.compiled, fused=prep.fused,
        cudnn_benchmark=env["cudnn_benchmark"], torch=env["torch"], cuda=env["cuda"],
        device_name=env["device_name"], input=f"{h}x{w}", note=f"out of memory: {str(exc).splitlines()[0]}",
    )


def throughput_vs_batch(model: SRModel | torch.nn.Module, *, scale: int, size: tuple[int, int] = (128, 128),
                        batches: Sequence[int] = (1, 2, 4, 8, 16), **options: Any) -> list[ThroughputRow]:
    """The throughput-vs-batch sweep: one :func:`benchmark_model` row per batch size at one LR size.

    The roofline is measured once and shared by all rows. Batches that run out of memory give NaN rows.
    ``options``: those of :func:`benchmark_model`.
    """
    if not batches:
        raise ValueError("batches must name at least one batch size")
    roofline, peak = _resolve_roofline(options.pop("roofline", None), options.pop("peak_gflops", None),
                                       options.get("measure_roofline", True), options.get("device", "cpu"),
                                       options.get("dtype", "fp32"))
    rows: list[ThroughputRow] = []
    for b in batches:
        rows += benchmark_model(model, scale=scale, sizes=(size,), batch=b, peak_gflops=peak, roofline=roofline,
                                **options)
    return rows


def benchmark_pairs(model: SRModel | torch.nn.Module, lr_images: Sequence[Any], *, scale: int,
                    dataset: str = "dataset", dtype: str = "fp32", device: str = "cpu",
                    channels_last: bool = False, compile: bool = False, fused: bool = False,
                    warmup: int | None = None, repeats: int | None = None, budget_s: float = BUDGET_S,
                    peak_gflops: float | None = None, roofline: Roofline | None = None,
                    measure_roofline: bool = True, flops: bool = True,
                    clock: Clock = time.perf_counter) -> ThroughputRow:
    """Time ``model`` over a dataset's real LR images (batch 1, as NTIRE does); one row named ``dataset``.

    ``lr_images``: uint8 HWC arrays (the data layer's ImagePair.lr; grayscale is repeated to RGB) or
    float tensors. All images are moved to ``device`` before timing. The dataset is one cell of
    :func:`srbench.perf.timing.time_adaptive`: a round runs every image once, each call timed on its own;
    warm-up until two consecutive rounds agree within 10 % (``warmup`` calls instead when given), then
    rounds until the interval is within +-2 % or ``budget_s`` is spent (``repeats`` rounds when given).
    Each image's median is its time; ``ms_median``/``ms_p90`` are over images; ``mpix_per_s`` and
    ``achieved_gflops_per_s`` are totals over the dataset / total median time.
    """
    import torch

    _check_common(scale, 1, dtype, device)
    if not lr_images:
        raise ValueError(f"{dataset}: no LR images to time")
    if repeats is not None and repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    prep = prepare_model(model, device=device, channels_last=channels_last, compile=compile, fused=fused,
                         dtype=dtype)
    env = environment(device)
    roofline, peak_gflops = _resolve_roofline(roofline, peak_gflops, measure_roofline, device, dtype)
    hosts = [to_tensor(im) for im in lr_images]
    xs = []
    for t in hosts:
        x = t.to(device)
        xs.append(x.contiguous(memory_format=torch.channels_last) if prep.channels_last else x)
    h2ds: list[float] = []
    d2hs: list[float] = []
    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats(device)
    with run_context(device, dtype), compile_context(prep.compiled, device):
        timing = time_adaptive([lambda x=x: prep.fn(x) for x in xs], device=device, warmup=warmup, iters=repeats,
                               budget_s=budget_s, clock=clock)
        per_image = timing.per_input_ms
        if is_cuda(device):
            for x_host, x in zip(hosts, xs, strict=True):
                h2d, d2h = _transfer_ms(x_host, prep.fn(x), device)
                if h2d is not None and d2h is not None:
                    h2ds.append(h2d)
                    d2hs.append(d2h)
    peak_mem = torch.cuda.max_memory_allocated(device) / 2**20 if is_cuda(device) else None
    total_s = sum(per_image) / 1e3
    total_out_px = sum(x.shape[2] * x.shape[3] * scale * scale for x in xs)
    total_bytes = sum(_io_bytes(x.shape[2], x.shape[3], scale) for x in xs)
    total_flops = None
    gflops_256 = None
    if flops and prep.module is not None:
        total_flops = sum(_flops_per_image(prep, x.shape[2], x.shape[3], device) or 0 for x in xs)
        gflops_256 = (_flops_per_image(prep, *FLOPS_LR_SIZE, device) or 0) / 1e9
    row = _row(prep, scale=scale, h=int(np.median([x.shape[2] for x in xs])),
               w=int(np.median([x.shape[3] for x in xs])), batch=1, dtype=dtype, device=device,
               per_image_ms=per_image, out_pixels=0.0, flops_timed=None, gflops_256=gflops_256,
               peak=peak_gflops, roofline=None, bytes_io=0.0, peak_mem_mb=peak_mem,
               h2d_ms=statistics.median(h2ds) if h2ds else None,
               d2h_ms=statistics.median(d2hs) if d2hs else None, input_name=dataset, env=env, timing=timing)
    # dataset totals: throughput is total work / total time, not the work of a median image
    achieved = total_flops / total_s / 1e9 if (total_flops is not None and total_s > 0) else None
    cols, note = _judged(row.note, f"{prep.name} x{scale} {dataset}", achieved, total_bytes, total_s, roofline,
                         peak_gflops, total_flops)
    return replace(
        row, images_per_s=len(xs) / total_s if total_s > 0 else math.inf,
        mpix_per_s=total_out_px / 1e6 / total_s if total_s > 0 else math.inf,
        achieved_gflops_per_s=achieved, note=note, **cols,
    )


# ------------------------------------------------------------------------------------------ run_bench

def _build(job: BenchJob, device: str) -> Any:
    if job.model is not None:
        return job.model
    return get_model(job.name, job.scale, device=device, **dict(job.build_options))


def _load_avg() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every OS
        return None


def _with_ceilings(rows: list[ThroughputRow], check: CeilingCheck) -> list[ThroughputRow]:
    """The model's rows with its ceiling check; an unreliable check's sentence joins each row's note."""
    out = []
    for r in rows:
        note = "; ".join(n for n in (r.note, check.note) if n) if check.reliable is False else r.note
        out.append(replace(r, ceiling_before_gflops_per_s=check.before, ceiling_after_gflops_per_s=check.after,
                           load_avg_1m=check.load_avg_1m, peak_reliable=check.reliable, note=note))
    return out


def run_bench(jobs: Sequence[BenchJob], options: BenchOptions | None = None, *,
              images: Sequence[TimingImages] = (), roofline: Roofline | None = None,
              out_dir: str | os.PathLike[str] | None = None, clock: Clock = time.perf_counter,
              ceiling: Callable[[], float] | None = None,
              load_avg: Callable[[], float | None] = _load_avg,
              progress: Callable[[int, int, str], None] | None = None) -> BenchResult:
    """The ``srbench bench`` pass: every job on ``options.sizes`` (+ a batch sweep at the first size when
    ``options.batches`` is set, + each of ``images`` whose scale matches the job's); returns the table,
    the failed jobs as sentences, and the roofline, measured once, first, in the same process (unless
    given). When ``out_dir`` is set, writes ``out_dir/throughput.csv``.

    A job that cannot be built or timed (missing weights, an optional dependency, a model error) is
    skipped with a warning and listed in ``errors``; the other jobs still run.

    With ``options.ceilings``, ``ceiling()`` (default :func:`srbench.perf.peak.ceiling_burst`, about 0.15 s)
    runs just before and after each job's timing and ``load_avg()`` after it; the job's rows get both
    figures and :func:`srbench.perf.peak.check_ceilings`' verdict (tests inject both).

    ``progress(done, total, label)`` is called before the roofline, before each job (``label`` names it:
    ``srgan x4``) and once at the end (``done == total``, empty label): the caller draws bars or log lines.
    """
    if not jobs:
        raise ValueError("no models to benchmark")
    opt = options or BenchOptions()
    _check_common(1, opt.batch, opt.dtype, opt.device)
    say = progress or (lambda done, total, label: None)
    if roofline is None:
        say(0, len(jobs), "roofline")
        roofline = measure_roofline(opt.device, opt.dtype)
    rows: list[ThroughputRow] = []
    errors: list[BenchError] = []
    common: dict[str, Any] = dict(dtype=opt.dtype, device=opt.device, channels_last=opt.channels_last,
                                  compile=opt.compile, fused=opt.fused, roofline=roofline, clock=clock,
                                  warmup=opt.warmup, budget_s=opt.budget_s)
    probe = ceiling or (lambda: ceiling_burst(opt.device, opt.dtype))
    earlier, theoretical = reference_ceiling(roofline)
    for i, job in enumerate(jobs):
        say(i, len(jobs), f"{job.name} x{job.scale}")
        try:
            model = _build(job, opt.device)
        except Exception as exc:  # a missing optional dependency must not stop the others
            err = BenchError(job.name, job.scale, f"could not be built: {exc}")
            warnings.warn(f"bench: skipping {err}", stacklevel=2)
            errors.append(err)
            continue
        try:
            before = probe() if opt.ceilings else None
            mine = benchmark_model(model, scale=job.scale, sizes=opt.sizes, batch=opt.batch, iters=opt.iters,
                                   **common)
            if opt.batches:
                mine += throughput_vs_batch(model, scale=job.scale, size=tuple(opt.sizes[0]), batches=opt.batches,
                                            iters=opt.iters, **common)
            for ds in images:
                if ds.scale == job.scale:
                    mine.append(benchmark_pairs(model, list(ds.lr), scale=job.scale, dataset=ds.dataset,
                                                repeats=opt.iters, **common))
            if opt.ceilings:
                check = check_ceilings(before, probe(), earlier=earlier, theoretical=theoretical,
                                       load_avg_1m=load_avg())
                if check.reliable is False:
                    warnings.warn(f"bench: {job.name} x{job.scale}: {check.note}", stacklevel=2)
                mine = _with_ceilings(mine, check)
            rows += mine
        except (SRBenchError, ModelError, ValueError, RuntimeError) as exc:  # one failing model must not stop others
            err = BenchError(job.name, job.scale, f"timing failed: {exc}")
            warnings.warn(f"bench: {err}", stacklevel=2)
            errors.append(err)
    say(len(jobs), len(jobs), "")
    frame = rows_to_frame(rows)
    frame.attrs["errors"] = [str(e) for e in errors]
    frame.attrs["roofline"] = roofline.record()
    if out_dir is not None:
        write_throughput_csv(frame, out_dir)
    return BenchResult(frame=frame, errors=tuple(errors), roofline=roofline)
