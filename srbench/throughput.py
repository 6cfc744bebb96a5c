"""The timed pass: how fast a model runs, measured the way the field's efficiency challenges do.

docs/protocol.md, "Throughput measurement": time the forward pass only, with the input already on the device, after warm-up;
on a GPU with CUDA events and ``torch.cuda.synchronize()`` (host timers would measure kernel launches
only), on a CPU with ``time.perf_counter``. Host<->device transfers are timed separately (``h2d_ms``,
``d2h_ms``) and never enter ``ms_median``. FLOPs are counted with ``torch.utils.flop_counter``
(2 FLOPs per multiply-accumulate; convolutions and matmuls only: elementwise ops are not counted) at a
256x256 LR input (``gflops``) and at the timed size (for ``achieved_gflops_per_s``). The roofline is the
dense matrix-multiply peak measured in the same process (:func:`measure_peak`), in the dtype timed.

Peak memory: ``torch.cuda.max_memory_allocated`` on GPU (weights + activations, MiB). On CPU there is no
allocator high-water mark to read, so ``peak_mem_mb`` is left empty (NaN) rather than guessed from RSS.

Importing this module does not import torch (srbench's rule); torch is imported inside the functions.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from srbench.files import atomic_write
from srbench.interfaces import ModelError, SRModel

if TYPE_CHECKING:
    import pandas as pd
    import torch

DTYPES = ("fp32", "fp16", "bf16")
FLOPS_LR_SIZE = (256, 256)  # the challenges' convention for the headline FLOP count

REQUIRED_COLUMNS = (
    "model", "scale", "lr_height", "lr_width", "batch", "dtype", "device", "ms_median", "ms_p90",
    "images_per_s", "mpix_per_s", "params", "gflops", "achieved_gflops_per_s", "peak_gflops_per_s",
    "peak_fraction",
)


@dataclass(frozen=True)
class ThroughputRow:
    """One line of throughput.csv. Times are per image (a batch's time divided by ``batch``).

    ``gflops``: GFLOP per image at a 256x256 LR input (None when the model is not a torch module).
    ``achieved_gflops_per_s``: FLOPs at the timed size / median time. ``peak_fraction`` = achieved / peak.
    ``mpix_per_s``: output (SR) megapixels per second. ``input``: "HxW" or the dataset name (then
    ``lr_height``/``lr_width`` are the median LR size over its images).
    """

    model: str
    scale: int
    lr_height: int | None
    lr_width: int | None
    batch: int
    dtype: str
    device: str
    ms_median: float
    ms_p90: float
    images_per_s: float
    mpix_per_s: float
    params: int | None
    gflops: float | None
    achieved_gflops_per_s: float | None
    peak_gflops_per_s: float | None
    peak_fraction: float | None
    peak_mem_mb: float | None = None
    h2d_ms: float | None = None
    d2h_ms: float | None = None
    threads: int | None = None
    channels_last: bool = False
    compile: bool = False
    fused: bool = False
    cudnn_benchmark: bool | None = None
    torch: str = ""
    cuda: str | None = None
    device_name: str = ""
    input: str = ""
    n_timed: int = 0
    note: str = ""


COLUMNS = tuple(f.name for f in fields(ThroughputRow))


# --------------------------------------------------------------------------------------------- timing

def _is_cuda(device: str) -> bool:
    return str(device).startswith("cuda")


def _sync(device: str) -> None:
    if _is_cuda(device):
        import torch

        torch.cuda.synchronize(device)


def time_callable(fn: Callable[[], Any], *, device: str = "cpu", warmup: int = 3, iters: int | None = None,
                  min_time_s: float = 1.0, max_iters: int = 10_000) -> list[float]:
    """Milliseconds of each timed call of ``fn()`` (warm-up calls excluded).

    ``warmup`` untimed calls first (first-call costs: CUDA context, cuDNN autotuning, oneDNN weight
    reordering, torch.compile). Then ``iters`` timed calls, or when ``iters`` is None as many as fit in
    ``min_time_s`` (at least 5, at most ``max_iters``). On CUDA each call is bracketed by CUDA events
    and the device is synchronised before reading them; on CPU ``time.perf_counter`` brackets it.
    """
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if iters is not None and iters < 1:
        raise ValueError(f"iters must be >= 1 (or None for time-based), got {iters}")
    if min_time_s < 0:
        raise ValueError(f"min_time_s must be >= 0, got {min_time_s}")
    for _ in range(warmup):
        fn()
    _sync(device)
    cuda = _is_cuda(device)
    if cuda:
        import torch
    times: list[float] = []
    start_all = time.perf_counter()
    while True:
        if cuda:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize(device)
            times.append(float(a.elapsed_time(b)))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        n = len(times)
        if iters is not None:
            if n >= iters:
                break
        elif n >= max_iters or (n >= 5 and time.perf_counter() - start_all >= min_time_s):
            break
    return times


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``q`` in [0, 100]."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


# ---------------------------------------------------------------------------------------- environment

def device_name(device: str) -> str:
    """Human name of the device: the GPU's name, or the CPU model from /proc/cpuinfo."""
    if _is_cuda(device):
        import torch

        return f"GPU: {torch.cuda.get_device_name(device)}"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU: {name}"


def environment(device: str) -> dict[str, Any]:
    """Versions and settings that belong beside every timing."""
    import torch

    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda if _is_cuda(device) else None,
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if _is_cuda(device) else None,
    }


def _torch_dtype(dtype: str) -> torch.dtype:
    import torch

    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if dtype not in table:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return table[dtype]


# ----------------------------------------------------------------------------------------- roofline

def measure_peak(device: str = "cpu", dtype: str = "fp32", *, n: int | None = None, repeats: int = 5) -> float:
    """Dense matrix-multiply GFLOP/s of ``device`` in ``dtype``, measured now (best of ``repeats``).

    The roofline of SR inference (convolutions are GEMMs underneath). ``n`` x ``n`` by ``n`` x ``n``
    products (default 2048 on CPU, 8192 on GPU), 2 n^3 FLOPs each; the best repeat is the peak (other
    processes can only slow a repeat down). Same method as the shared bench's ``machine_peak.py`` ($SRBENCH_SHARED_BENCH).
    """
    import torch

    tdt = _torch_dtype(dtype)
    if n is None:
        n = 8192 if _is_cuda(device) else 2048
    if n < 1:
        raise ValueError(f"matrix size must be >= 1, got {n}")
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=tdt)
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=tdt)
    with torch.inference_mode():
        times = time_callable(lambda: a @ b, device=device, warmup=1, iters=repeats)
    return 2.0 * n**3 / (min(times) / 1e3) / 1e9


# -------------------------------------------------------------------------------------------- FLOPs

def count_flops(module: torch.nn.Module, shape: Sequence[int], *, device: str | None = None) -> int:
    """FLOPs (2 per multiply-accumulate) of one forward pass of ``module`` on an input of NCHW ``shape``.

    Counted with ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, matmuls, attention; not
    elementwise ops). The count runs on a copy of the module on the ``meta`` device (no arithmetic, no
    memory) when the module allows it, else on its own device with a zero input.
    """
    import copy

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    def run(mod: torch.nn.Module, dev: Any) -> int:
        x = torch.zeros(tuple(shape), device=dev)
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            mod(x)
        return int(counter.get_total_flops())

    try:
        meta = copy.deepcopy(module).to("meta")
        return run(meta, "meta")
    except Exception:  # some ops have no meta kernel: count on the real device
        dev = device or next((p.device for p in module.parameters()), torch.device("cpu"))
        return run(module, dev)


def count_params(module: torch.nn.Module) -> int:
    """Number of parameters (BN running statistics are buffers and are not counted)."""
    return int(sum(p.numel() for p in module.parameters()))


# --------------------------------------------------------------------------------- model preparation

@dataclass
class _Prepared:
    name: str
    fn: Callable[[Any], Any]  # NCHW float32 [0, 1] tensor on device -> output tensor
    module: Any  # the torch module whose FLOPs/params are reported (None for non-torch models)
    channels_last: bool
    compiled: bool
    fused: bool
    note: str


def _unwrap(model: Any) -> tuple[str, Any, Any]:
    """(name, torch module or None, SRModel or None)."""
    import torch

    if isinstance(model, torch.nn.Module):
        return type(model).__name__, model, None
    if isinstance(model, SRModel):
        mod = getattr(model, "module", None)
        return model.name, (mod if isinstance(mod, torch.nn.Module) else None), model
    raise ModelError(f"cannot benchmark {type(model).__name__}: expected an SRModel or a torch.nn.Module")


def prepare(model: Any, *, device: str = "cpu", channels_last: bool = False, compile: bool = False,
            fused: bool = False, dtype: str = "fp32", compile_mode: str | None = None) -> _Prepared:
    """Turn a model into the callable that is timed.

    A torch module (an ``nn.Module``, or an adapter's ``.module``) is timed directly, in eval mode under
    ``torch.inference_mode``: that is the network's own speed, without the adapter's input checks. Options:
    ``channels_last`` (NHWC memory format for module and input), ``fused`` (the SRResNet fused plan of
    :mod:`srbench.perf.fused`: BN/PReLU/residual/tanh folded into oneDNN convolution post-ops, run in
    ``dtype`` itself rather than under autocast; falls back with a note for other networks; on CPU it
    also makes malloc keep freed memory, :mod:`srbench.perf.memory`, recorded in ``note``) and ``compile`` (``torch.compile``; on CPU with inductor freezing,
    which folds BN and prepacks weights). A model without a torch module is timed through ``upscale``;
    these options do not apply to it and are recorded as False. A bare module is put in eval mode and
    moved to ``device`` (and to channels_last when asked) in place, as ``module.to`` does.
    """
    import torch

    name, module, adapter = _unwrap(model)
    if adapter is not None and str(getattr(adapter, "device", device)) != str(device):
        raise ValueError(f"model {name!r} was built for device {adapter.device!r}, not {device!r}: build it "
                         f"with device={device!r} (srbench.registry.get_model(name, scale, device=...))")
    notes: list[str] = []
    if module is None:
        if channels_last or compile or fused:
            notes.append("channels_last/compile/fused do not apply (not a torch module)")
        return _Prepared(name, adapter.upscale, None, False, False, False, "; ".join(notes))
    module = module.eval().to(device)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    fn: Callable[[Any], Any] = module
    if _is_cuda(device) and dtype == "fp32" and torch.backends.cudnn.allow_tf32:
        # torch's default: cuDNN convolutions run in TF32, the fp32 matmul peak does not
        notes.append("cuDNN TF32 convolutions on (torch default); achieved may exceed the fp32 matmul peak")
    is_fused = False
    if fused:
        from srbench.perf.fused import FusionUnsupported, fuse

        try:
            fn = fuse(module, device=device, dtype=dtype)
            is_fused = True
        except FusionUnsupported as exc:
            notes.append(f"not fused: {exc}")
        if is_fused and not _is_cuda(device):
            from srbench.perf.memory import retain_freed_memory

            if retain_freed_memory():  # large activations reuse heap pages instead of fresh mmaps
                notes.append("malloc retains freed memory (srbench.perf.memory)")
    compiled = False
    if compile:
        kwargs: dict[str, Any] = {}
        if compile_mode:
            kwargs["mode"] = compile_mode
        fn = torch.compile(fn, **kwargs)
        compiled = True
    return _Prepared(name, fn, module, channels_last, compiled, is_fused, "; ".join(notes))


def _run_context(device: str, dtype: str) -> Any:
    """inference_mode + autocast (fp16/bf16) as one context manager."""
    import contextlib

    import torch

    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    if dtype != "fp32":
        stack.enter_context(torch.autocast("cuda" if _is_cuda(device) else "cpu", dtype=_torch_dtype(dtype)))
    if _is_cuda(device) and dtype == "fp32":
        pass  # TF32 follows the user's torch.backends settings; recorded via the environment
    return stack


def _compile_context(compiled: bool, device: str) -> Any:
    import contextlib

    if not (compiled and not _is_cuda(device)):
        return contextlib.nullcontext()
    import torch._inductor.config as inductor_config

    # freezing: constant-fold BN into conv and prepack weights for oneDNN (CPU inference only)
    return inductor_config.patch(freezing=True)


# ------------------------------------------------------------------------------------------ the pass

def _row(prep: _Prepared, *, scale: int, h: int | None, w: int | None, batch: int, dtype: str, device: str,
         per_image_ms: Sequence[float], out_pixels: float, flops_timed: float | None, gflops_256: float | None,
         peak: float | None, peak_mem_mb: float | None, h2d_ms: float | None, d2h_ms: float | None,
         input_name: str, env: Mapping[str, Any]) -> ThroughputRow:
    ms_median = statistics.median(per_image_ms)
    ms_p90 = percentile(per_image_ms, 90)
    s = ms_median / 1e3
    achieved = flops_timed / s / 1e9 if (flops_timed is not None and s > 0) else None
    frac = achieved / peak if (achieved is not None and peak) else None
    return ThroughputRow(
        model=prep.name, scale=scale, lr_height=h, lr_width=w, batch=batch, dtype=dtype, device=device,
        ms_median=ms_median, ms_p90=ms_p90, images_per_s=1.0 / s if s > 0 else math.inf,
        mpix_per_s=out_pixels / 1e6 / s if s > 0 else math.inf,
        params=count_params(prep.module) if prep.module is not None else None,
        gflops=gflops_256, achieved_gflops_per_s=achieved, peak_gflops_per_s=peak, peak_fraction=frac,
        peak_mem_mb=peak_mem_mb, h2d_ms=h2d_ms, d2h_ms=d2h_ms, threads=env["threads"],
        channels_last=prep.channels_last, compile=prep.compiled, fused=prep.fused,
        cudnn_benchmark=env["cudnn_benchmark"], torch=env["torch"], cuda=env["cuda"],
        device_name=env["device_name"], input=input_name, n_timed=len(per_image_ms), note=prep.note,
    )


def _flops_per_image(prep: _Prepared, h: int, w: int, device: str) -> int | None:
    if prep.module is None:
        return None
    return count_flops(prep.module, (1, 3, h, w), device=device)


def _transfer_ms(x_host: torch.Tensor, y_dev: torch.Tensor, device: str) -> tuple[float | None, float | None]:
    """Median ms of copying the input to the GPU (from pinned memory) and the output back."""
    if not _is_cuda(device):
        return None, None
    import torch

    src = x_host.pin_memory()
    dst = torch.empty_like(y_dev, device="cpu").pin_memory()
    h2d = time_callable(lambda: src.to(device, non_blocking=True), device=device, warmup=1, iters=5)
    d2h = time_callable(lambda: dst.copy_(y_dev, non_blocking=True), device=device, warmup=1, iters=5)
    return statistics.median(h2d), statistics.median(d2h)


def _check_common(scale: int, batch: int, dtype: str, device: str) -> None:
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    _torch_dtype(dtype)
    if _is_cuda(device):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")


def benchmark_model(model: SRModel | torch.nn.Module, *, scale: int,
                    sizes: Sequence[tuple[int, int]] = ((64, 64), (128, 128), (256, 256)), batch: int = 1,
                    dtype: str = "fp32", device: str = "cpu", channels_last: bool = False,
                    compile: bool = False, fused: bool = False, warmup: int = 3, iters: int | None = None,
                    min_time_s: float = 1.0, peak_gflops: float | None = None, measure_roofline: bool = True,
                    flops: bool = True) -> list[ThroughputRow]:
    """Time ``model`` on random LR inputs of each (height, width) in ``sizes``; one row per size.

    The input (``batch`` x 3 x h x w, uniform [0, 1], float32) is created on ``device`` before timing.
    ``dtype`` fp16/bf16 runs under autocast. ``peak_gflops``: the roofline to divide by; None measures it
    now with :func:`measure_peak` (skipped when ``measure_roofline`` is False). ``flops=False`` skips the
    FLOP count (then ``gflops``/``achieved`` are empty). Out-of-memory at one size gives a row with NaN
    times and the error in ``note`` instead of stopping the sweep.
    """
    import torch

    _check_common(scale, batch, dtype, device)
    if not sizes:
        raise ValueError("sizes must name at least one (height, width)")
    prep = prepare(model, device=device, channels_last=channels_last, compile=compile, fused=fused, dtype=dtype)
    env = environment(device)
    if peak_gflops is None and measure_roofline:
        peak_gflops = measure_peak(device, dtype)
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
            if _is_cuda(device):
                torch.cuda.reset_peak_memory_stats(device)
            with _run_context(device, dtype), _compile_context(prep.compiled, device):
                out = prep.fn(x)
                times = time_callable(lambda x=x: prep.fn(x), device=device, warmup=warmup, iters=iters,
                                      min_time_s=min_time_s)
            if _is_cuda(device):
                peak_mem = torch.cuda.max_memory_allocated(device) / 2**20
            h2d, d2h = _transfer_ms(x_host, out, device)
        except torch.OutOfMemoryError as exc:
            warnings.warn(f"{prep.name} x{scale} {h}x{w} batch {batch}: out of memory ({exc})", stacklevel=2)
            rows.append(_oom_row(prep, scale, h, w, batch, dtype, device, env, gflops_256, peak_gflops, exc))
            continue
        flops_img = _flops_per_image(prep, h, w, device) if flops else None
        rows.append(_row(
            prep, scale=scale, h=h, w=w, batch=batch, dtype=dtype, device=device,
            per_image_ms=[t / batch for t in times], out_pixels=h * w * scale * scale,
            flops_timed=flops_img, gflops_256=gflops_256, peak=peak_gflops, peak_mem_mb=peak_mem,
            h2d_ms=None if h2d is None else h2d / batch, d2h_ms=None if d2h is None else d2h / batch,
            input_name=f"{h}x{w}", env=env,
        ))
    return rows


def _oom_row(prep: _Prepared, scale: int, h: int, w: int, batch: int, dtype: str, device: str,
             env: Mapping[str, Any], gflops_256: float | None, peak: float | None, exc: Exception) -> ThroughputRow:
    nan = math.nan
    return ThroughputRow(
        model=prep.name, scale=scale, lr_height=h, lr_width=w, batch=batch, dtype=dtype, device=device,
        ms_median=nan, ms_p90=nan, images_per_s=nan, mpix_per_s=nan,
        params=count_params(prep.module) if prep.module is not None else None, gflops=gflops_256,
        achieved_gflops_per_s=None, peak_gflops_per_s=peak, peak_fraction=None, threads=env["threads"],
        channels_last=prep.channels_last, compile=prep.compiled, fused=prep.fused,
        cudnn_benchmark=env["cudnn_benchmark"], torch=env["torch"], cuda=env["cuda"],
        device_name=env["device_name"], input=f"{h}x{w}", note=f"out of memory: {str(exc).splitlines()[0]}",
    )


def throughput_vs_batch(model: SRModel | torch.nn.Module, *, scale: int, size: tuple[int, int] = (128, 128),
                        batches: Sequence[int] = (1, 2, 4, 8, 16), **options: Any) -> list[ThroughputRow]:
    """The throughput-vs-batch sweep: one :func:`benchmark_model` row per batch size at one LR size.

    The roofline is measured once and shared by all rows. Batches that run out of memory give NaN rows.
    """
    if not batches:
        raise ValueError("batches must name at least one batch size")
    peak = options.pop("peak_gflops", None)
    if peak is None and options.get("measure_roofline", True):
        peak = measure_peak(options.get("device", "cpu"), options.get("dtype", "fp32"))
    rows: list[ThroughputRow] = []
    for b in batches:
        rows += benchmark_model(model, scale=scale, sizes=(size,), batch=b, peak_gflops=peak, **options)
    return rows


def _to_tensor(img: Any) -> torch.Tensor:
    """uint8 HWC (C = 1 or 3) array or float NCHW/CHW tensor -> float32 1x3xHxW in [0, 1] (grey repeated)."""
    import torch

    if isinstance(img, torch.Tensor):
        t = img.float()
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4 or t.shape[1] != 3:
            raise ValueError(f"expected an RGB CHW/NCHW tensor, got shape {tuple(img.shape)}")
        return t
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3) or arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 HWC image with 1 or 3 channels, got {arr.dtype} {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float().div_(255.0).unsqueeze(0)


def benchmark_pairs(model: SRModel | torch.nn.Module, lr_images: Sequence[Any], *, scale: int,
                    dataset: str = "dataset", dtype: str = "fp32", device: str = "cpu",
                    channels_last: bool = False, compile: bool = False, fused: bool = False, warmup: int = 1,
                    repeats: int = 3, peak_gflops: float | None = None, measure_roofline: bool = True,
                    flops: bool = True) -> ThroughputRow:
    """Time ``model`` over a dataset's real LR images (batch 1, as NTIRE does); one row named ``dataset``.

    ``lr_images``: uint8 HWC arrays (the data layer's ImagePair.lr; grayscale is repeated to RGB) or
    float tensors. All images are moved to ``device`` before timing; each is run ``warmup`` times untimed
    and ``repeats`` times timed, its median is its time. ``ms_median``/``ms_p90`` are over images;
    ``mpix_per_s`` and ``achieved_gflops_per_s`` are totals over the dataset / total median time.
    """
    import torch

    _check_common(scale, 1, dtype, device)
    if not lr_images:
        raise ValueError(f"{dataset}: no LR images to time")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    prep = prepare(model, device=device, channels_last=channels_last, compile=compile, fused=fused, dtype=dtype)
    env = environment(device)
    if peak_gflops is None and measure_roofline:
        peak_gflops = measure_peak(device, dtype)
    hosts = [_to_tensor(im) for im in lr_images]
    xs = []
    for t in hosts:
        x = t.to(device)
        xs.append(x.contiguous(memory_format=torch.channels_last) if prep.channels_last else x)
    per_image: list[float] = []
    h2ds: list[float] = []
    d2hs: list[float] = []
    if _is_cuda(device):
        torch.cuda.reset_peak_memory_stats(device)
    with _run_context(device, dtype), _compile_context(prep.compiled, device):
        for x_host, x in zip(hosts, xs, strict=True):
            out = prep.fn(x)
            times = time_callable(lambda x=x: prep.fn(x), device=device, warmup=warmup, iters=repeats)
            per_image.append(statistics.median(times))
            h2d, d2h = _transfer_ms(x_host, out, device)
            if h2d is not None:
                h2ds.append(h2d)
                d2hs.append(d2h)  # type: ignore[arg-type]
    peak_mem = torch.cuda.max_memory_allocated(device) / 2**20 if _is_cuda(device) else None
    total_s = sum(per_image) / 1e3
    total_out_px = sum(x.shape[2] * x.shape[3] * scale * scale for x in xs)
    total_flops = None
    gflops_256 = None
    if flops and prep.module is not None:
        total_flops = sum(_flops_per_image(prep, x.shape[2], x.shape[3], device) for x in xs)
        gflops_256 = _flops_per_image(prep, *FLOPS_LR_SIZE, device) / 1e9
    row = _row(prep, scale=scale, h=int(np.median([x.shape[2] for x in xs])),
               w=int(np.median([x.shape[3] for x in xs])), batch=1, dtype=dtype, device=device,
               per_image_ms=per_image, out_pixels=0.0, flops_timed=None, gflops_256=gflops_256,
               peak=peak_gflops, peak_mem_mb=peak_mem,
               h2d_ms=statistics.median(h2ds) if h2ds else None,
               d2h_ms=statistics.median(d2hs) if d2hs else None, input_name=dataset, env=env)
    # dataset totals: throughput is total work / total time, not the work of a median image
    achieved = total_flops / total_s / 1e9 if total_flops is not None else None
    from dataclasses import replace

    return replace(
        row, images_per_s=len(xs) / total_s, mpix_per_s=total_out_px / 1e6 / total_s,
        achieved_gflops_per_s=achieved,
        peak_fraction=achieved / peak_gflops if (achieved is not None and peak_gflops) else None,
    )


# --------------------------------------------------------------------------------------- the command

def rows_to_frame(rows: Sequence[ThroughputRow]) -> pd.DataFrame:
    """Rows -> DataFrame with the throughput.csv columns in a fixed order."""
    import pandas as pd

    return pd.DataFrame([asdict(r) for r in rows], columns=list(COLUMNS))


def summary_table(frame: pd.DataFrame) -> str:
    """A fixed-width text table of the headline columns, for the terminal (``srbench bench``)."""
    cols = ["model", "scale", "input", "batch", "dtype", "ms_median", "ms_p90", "images_per_s", "mpix_per_s",
            "gflops", "achieved_gflops_per_s", "peak_fraction", "peak_mem_mb"]
    heads = ["model", "x", "input", "batch", "dtype", "ms med", "ms p90", "img/s", "MP/s", "GFLOP@256",
             "GFLOP/s", "of peak", "MiB"]

    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
        return str(v)

    body = [[fmt(r[c]) for c in cols] for r in frame.to_dict("records")]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in body]
    if len(frame):
        first = frame.iloc[0]
        peak = first["peak_gflops_per_s"]
        peak_s = "-" if peak is None or (isinstance(peak, float) and math.isnan(peak)) else f"{peak:.1f}"
        lines.append(f"device: {first['device_name']} ({first['device']}), threads {first['threads']}, "
                     f"torch {first['torch']}, cuda {first['cuda'] if isinstance(first['cuda'], str) else '-'}; "
                     f"measured {first['dtype']} matmul peak {peak_s} GFLOP/s")
    return "\n".join(lines)


def write_throughput_csv(rows: Sequence[ThroughputRow] | pd.DataFrame, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``out_dir/throughput.csv`` atomically (temporary file + rename); returns its path."""
    import pandas as pd

    frame = rows if isinstance(rows, pd.DataFrame) else rows_to_frame(rows)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "throughput.csv"
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def run_bench(models: Sequence[str | SRModel | Any] | Mapping[int, Mapping[str, Any]],
              scales: Sequence[int] | None = None, *,
              sizes: Sequence[tuple[int, int]] = ((64, 64), (128, 128), (256, 256)), batch: int = 1,
              dtype: str = "fp32", device: str = "cpu", channels_last: bool = False, compile: bool = False,
              fused: bool = False, warmup: int = 3, iters: int | None = None, min_time_s: float = 1.0,
              datasets: Mapping[str, Sequence[Any]] | None = None, batches: Sequence[int] | None = None,
              model_options: Mapping[str, Mapping[str, Any]] | None = None,
              out_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The ``srbench bench`` pass: every model x scale on the fixed ``sizes`` (+ each dataset's real LR
    images, + a batch sweep at the first size when ``batches`` is given); returns the table and, when
    ``out_dir`` is set, writes ``out_dir/throughput.csv``.

    ``models``: registry names (built with ``srbench.registry.get_model(name, scale, device=device,
    **model_options.get(name, {}))``) or ready SRModel / nn.Module objects (used for every scale as is);
    or the evaluate loop's already built adapters, ``{scale: {name: model}}`` (then ``scales``, if given,
    selects among them).
    ``datasets``: name -> LR images (uint8 HWC) *for each scale*, as ``{name: images}`` when one scale is
    benchmarked, or ``{f"{name}@x{scale}": images}`` to give per-scale images. A model that cannot be
    built is skipped with a warning (recorded in the returned frame's ``attrs["errors"]``). The
    roofline is measured once, first, in the same process.
    """
    if not models:
        raise ValueError("no models to benchmark")
    if isinstance(models, Mapping):
        jobs = [(int(sc), m) for sc, table in models.items() for m in table.values()
                if scales is None or int(sc) in scales]
    else:
        if not scales:
            raise ValueError("no scales to benchmark")
        jobs = [(sc, m) for m in models for sc in scales]
    model_options = model_options or {}
    peak = measure_peak(device, dtype)
    rows: list[ThroughputRow] = []
    errors: list[dict[str, Any]] = []
    common = dict(dtype=dtype, device=device, channels_last=channels_last, compile=compile, fused=fused)
    for scale, spec in jobs:
        if isinstance(spec, str):
            from srbench.registry import get_model

            try:
                model = get_model(spec, scale, device=device, **dict(model_options.get(spec, {})))
            except Exception as exc:  # a missing optional dependency must not stop the others
                warnings.warn(f"bench: skipping {spec} x{scale}: {exc}", stacklevel=2)
                errors.append({"model": spec, "scale": scale, "error": str(exc)})
                continue
        else:
            model = spec
        try:
            rows += benchmark_model(model, scale=scale, sizes=sizes, batch=batch, warmup=warmup, iters=iters,
                                    min_time_s=min_time_s, peak_gflops=peak, **common)
            if batches:
                rows += throughput_vs_batch(model, scale=scale, size=tuple(sizes[0]), batches=batches,
                                            warmup=warmup, iters=iters, min_time_s=min_time_s,
                                            peak_gflops=peak, **common)
            for ds_name, images in (datasets or {}).items():
                base, _, at = ds_name.partition("@x")
                if at and int(at) != scale:
                    continue
                rows.append(benchmark_pairs(model, images, scale=scale, dataset=base, peak_gflops=peak,
                                            warmup=1, **common))
        except (ModelError, ValueError, RuntimeError) as exc:  # one failing model must not stop the others
            name = spec if isinstance(spec, str) else getattr(spec, "name", type(spec).__name__)
            warnings.warn(f"bench: {name} x{scale} failed: {exc}", stacklevel=2)
            errors.append({"model": name, "scale": scale, "error": str(exc)})
    frame = rows_to_frame(rows)
    frame.attrs["errors"] = errors
    if out_dir is not None:
        write_throughput_csv(frame, out_dir)
    return frame
