"""The roofline: how fast this machine can compute and move data, measured once per run.

"Of peak" must be a fraction of a ceiling, so the compute peak is measured by kernels that reach the
hardware's limit, not by an ordinary matrix multiply (which other processes, cache effects and the
library's blocking keep well below it):

- **CPU, fp32**: an FMA microkernel (:func:`fma_peak`): ``chains`` independent accumulator chains of
  ``<lanes x float>`` vectors (``lanes`` from the CPU flags: 16 with avx512f, 8 with AVX2), each updated
  ``acc = fma(acc, a, b)`` in a loop, on every usable core at once (one Python thread per core calling
  the compiled loop, which releases the GIL). The loop is generated as LLVM IR and compiled in process
  by llvmlite (numba's code generator, a dependency already); it is written with explicit vector types
  because numba's own auto-vectoriser emits 256-bit FMAs on AVX-512 parts (LLVM's prefer-256-bit
  tuning), which would halve the ceiling. The fp32 peak is the best of that and the fp32 GEMM.
- **CPU, bf16/fp16**: the best of a few large ``torch.matmul`` shapes in that dtype (oneDNN runs them on
  AMX tiles when the CPU has amx_bf16, else with avx512_bf16 dot products), for bf16 on a CPU with
  avx512_bf16 a dot-product microkernel (:func:`bf16_dot_peak`: the same loop with ``vdpbf16ps``, two
  bf16 products per fp32 lane, twice the fp32 FMA rate), and the fp32 FMA peak (a lower bound: the
  dtype can always be computed in fp32).
- **CUDA**: the best of a few cuBLAS GEMM shapes (``torch.matmul``) in the timed dtype, timed with CUDA
  events; for fp32 with TF32 allowed (torch's cuDNN default) the GEMM runs with TF32 too, so the ceiling
  covers what the convolutions use.
- **Memory bandwidth**: a STREAM-like copy (``dst.copy_(src)`` of buffers far larger than the caches;
  bytes read + bytes written per second, STREAM's convention), the bound for models of low arithmetic
  intensity (bicubic).

Beside the measured figure, the theoretical one from the flags (:func:`theoretical_peak`): cores x FMA
units x lanes x 2 FLOPs x the nominal clock of /proc/cpuinfo (turbo clocks can exceed it, so the measured
figure is the ceiling; the theoretical one says how close the microkernel came).

Each probe is injectable (:func:`measure_roofline` takes them as arguments): the tests drive the CPU
and CUDA code paths with fakes.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from srbench.perf.env import CpuInfo, cpu_info
from srbench.perf.timing import Clock, is_cuda, time_callable

DTYPES = ("fp32", "fp16", "bf16")
FMA_CHAINS = 12  # independent accumulators: > FMA latency (4 cycles) x FMA units (2), so the pipes never wait
DOT_CHAINS = 16  # vdpbf16ps has a longer latency (6 cycles on Zen 5): 12 chains reach 0.94 of 16's rate
GEMM_SHAPES_CPU = ((2048, 2048, 2048), (1024, 4096, 1024), (4096, 1024, 4096))  # bf16/fp16 (AMX tiles where present)
# fp32: the FMA microkernel is the ceiling and the GEMM its cross-check; the wide shape never won and took a third
# of a run's roofline time (0.8 s of 2.3 s)
GEMM_SHAPES_CPU_FP32 = GEMM_SHAPES_CPU[:2]
GEMM_SHAPES_CUDA = ((8192, 8192, 8192), (4096, 4096, 4096), (16384, 4096, 8192))
COPY_MIB = 256


class PeakUnavailable(RuntimeError):
    """A probe cannot run here (e.g. llvmlite missing, dtype not supported by the device)."""


def torch_dtype(dtype: str) -> Any:
    """The torch dtype of "fp32"/"fp16"/"bf16"; a ValueError naming the choices otherwise."""
    import torch

    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if dtype not in table:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return table[dtype]


# ----------------------------------------------------------------------------------- FMA microkernel

KERNEL_OPS = ("fma", "dpbf16")  # fp32 FMA; avx512_bf16 dot product (vdpbf16ps: 2 bf16 pairs per fp32 lane)


def kernel_flops_per_lane(op: str) -> int:
    """FLOPs per lane per instruction: 2 for an fp32 FMA, 4 for a bf16 pair dot product."""
    if op not in KERNEL_OPS:
        raise ValueError(f"op must be one of {KERNEL_OPS}, got {op!r}")
    return 2 if op == "fma" else 4


def fma_kernel_ir(lanes: int, chains: int, op: str = "fma") -> str:
    """LLVM IR of ``float kern(i64 reps, float a, float b)``: ``chains`` vector accumulators of ``lanes``
    floats, each starting at ``b`` and updated ``reps`` times; returns lane 0 of their sum (so the work
    cannot be optimised away). ``op="fma"``: ``acc = fma(acc, a, b)``. ``op="dpbf16"`` (16 lanes only):
    ``acc = vdpbf16ps(acc, p, p)`` where ``p`` is ``a``'s bits read as a (low, high) bf16 pair in every
    lane, i.e. ``acc += lo(a)^2 + hi(a)^2``. ``lanes * chains * kernel_flops_per_lane(op)`` FLOPs per
    repetition."""
    kernel_flops_per_lane(op)
    if lanes < 1 or chains < 1:
        raise ValueError(f"lanes and chains must be >= 1, got {lanes}, {chains}")
    if op == "dpbf16" and lanes != 16:
        raise ValueError(f"the bf16 dot-product kernel is 512-bit: lanes must be 16, got {lanes}")
    v = f"<{lanes} x float>"
    if op == "fma":
        fn = f"@llvm.fma.v{lanes}f32"
        decl = f"declare {v} {fn}({v}, {v}, {v})"
        operands = f"{v} %a, {v} %b"
    else:
        fn, pairs = "@llvm.x86.avx512bf16.dpbf16ps.512", "<32 x bfloat>"
        decl = f"declare {v} {fn}({v}, {pairs}, {pairs})"
        operands = f"{pairs} %p, {pairs} %p"
    out = [decl,
           "define float @kern(i64 %reps, float %a0, float %b0) {",
           "entry:",
           f"  %a1 = insertelement {v} undef, float %a0, i32 0",
           f"  %a = shufflevector {v} %a1, {v} undef, <{lanes} x i32> zeroinitializer",
           f"  %b1 = insertelement {v} undef, float %b0, i32 0",
           f"  %b = shufflevector {v} %b1, {v} undef, <{lanes} x i32> zeroinitializer"]
    if op == "dpbf16":
        out.append(f"  %p = bitcast {v} %a to <32 x bfloat>")
    out += ["  %any = icmp ugt i64 %reps, 0",
            "  br i1 %any, label %loop, label %none",
            "none:",
            "  ret float %b0",
            "loop:",
            "  %i = phi i64 [0, %entry], [%inext, %loop]"]
    out += [f"  %acc{k} = phi {v} [%b, %entry], [%n{k}, %loop]" for k in range(chains)]
    out += [f"  %n{k} = call {v} {fn}({v} %acc{k}, {operands})" for k in range(chains)]
    out += ["  %inext = add i64 %i, 1",
            "  %more = icmp ult i64 %inext, %reps",
            "  br i1 %more, label %loop, label %done",
            "done:"]
    prev = "%n0"
    for k in range(1, chains):
        out.append(f"  %s{k} = fadd {v} {prev}, %n{k}")
        prev = f"%s{k}"
    out += [f"  %r = extractelement {v} {prev}, i32 0", "  ret float %r", "}"]
    return "\n".join(out)


@functools.lru_cache(maxsize=4)
def _compiled_kernel(lanes: int, chains: int, op: str = "fma") -> tuple[Callable[[int, float, float], float], Any]:
    """(the compiled microkernel as a GIL-releasing ctypes function, the engine that owns its code)."""
    try:
        import llvmlite.binding as llvm
    except ImportError as exc:
        raise PeakUnavailable(f"the FMA microkernel needs llvmlite (installed with numba): {exc}") from exc
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    features = llvm.get_host_cpu_features()
    if op == "dpbf16" and not features.get("avx512bf16"):  # LLVM aborts the process on an unselectable op
        raise PeakUnavailable("LLVM does not see avx512bf16 on this host: no bf16 dot-product microkernel")
    try:
        module = llvm.parse_assembly(fma_kernel_ir(lanes, chains, op))
        module.verify()
    except RuntimeError as exc:  # an llvmlite whose LLVM lacks the intrinsic or the bfloat type
        raise PeakUnavailable(f"llvmlite cannot build the {op} microkernel: {exc}") from exc
    target = llvm.Target.from_default_triple()
    machine = target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                           features=features.flatten(), opt=2)
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    proto = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64, ctypes.c_float, ctypes.c_float)
    return proto(engine.get_function_address("kern")), engine


def fma_kernel(lanes: int, chains: int = FMA_CHAINS, op: str = "fma") -> Callable[[int, float, float], float]:
    """The compiled microkernel ``kern(reps, a, b) -> float`` (see :func:`fma_kernel_ir`)."""
    return _compiled_kernel(lanes, chains, op)[0]


def fma_peak(*, threads: int | None = None, lanes: int | None = None, chains: int | None = None,
             burst_s: float = 0.1, repeats: int = 5, clock: Clock = time.perf_counter, op: str = "fma") -> float:
    """GFLOP/s of the microkernel ``op`` on ``threads`` cores at once (default: all usable), best of
    ``repeats`` bursts of about ``burst_s`` seconds each (other processes can only slow a burst down).
    ``op="dpbf16"`` is the bf16 ceiling of a CPU with avx512_bf16 (:func:`bf16_dot_peak`)."""
    info = cpu_info()
    threads = info.cores if threads is None else threads
    lanes = info.fp32_lanes if lanes is None else lanes
    chains = (FMA_CHAINS if op == "fma" else DOT_CHAINS) if chains is None else chains
    if threads < 1 or lanes < 1 or repeats < 1 or burst_s <= 0:
        raise ValueError(f"threads, repeats and burst_s must be positive, got {threads}, {repeats}, {burst_s}")
    kern = fma_kernel(lanes, chains, op)
    flops_per_rep = kernel_flops_per_lane(op) * lanes * chains
    t0 = clock()
    kern(100_000, 0.999999, 1e-7)
    per_rep = max((clock() - t0) / 100_000, 1e-10)
    reps = max(1000, int(burst_s / per_rep))
    best = 0.0
    for _ in range(repeats):
        barrier = threading.Barrier(threads + 1)

        def work(barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            kern(reps, 0.999999, 1e-7)

        pool = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
        for th in pool:
            th.start()
        barrier.wait()
        t0 = clock()
        for th in pool:
            th.join()
        dt = clock() - t0
        if dt > 0:
            best = max(best, flops_per_rep * reps * threads / dt / 1e9)
    return best


def bf16_dot_peak(**kw: Any) -> float:
    """GFLOP/s of the bf16 dot-product microkernel (vdpbf16ps) on all cores; PeakUnavailable where this
    CPU has no avx512_bf16 (there bf16 runs on AMX tiles or in fp32). The flags are this machine's own,
    never a caller's: the instruction would kill the process where it does not exist."""
    info = cpu_info()
    if "avx512_bf16" not in info.flags or info.fp32_lanes != 16:
        raise PeakUnavailable("no avx512_bf16 on this CPU: no bf16 dot-product microkernel")
    return fma_peak(lanes=16, op="dpbf16", **kw)


# --------------------------------------------------------------------------------------------- GEMM

GemmTimer = Callable[[tuple[int, int, int]], list[float]]  # (m, k, n) -> ms of each timed product


def _torch_gemm_timer(device: str, dtype: str, repeats: int) -> GemmTimer:
    import torch

    tdt = torch_dtype(dtype)

    def run(shape: tuple[int, int, int]) -> list[float]:
        m, k, n = shape
        gen = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randn(m, k, generator=gen).to(device=device, dtype=tdt)
        b = torch.randn(k, n, generator=gen).to(device=device, dtype=tdt)
        with torch.inference_mode():
            return time_callable(lambda: a @ b, device=device, warmup=1, iters=repeats)

    return run


def gemm_peak(device: str = "cpu", dtype: str = "fp32", *, shapes: Sequence[tuple[int, int, int]] | None = None,
              repeats: int = 3, timer: GemmTimer | None = None) -> tuple[float, tuple[int, int, int]]:
    """(best GFLOP/s, its (m, k, n)) over ``shapes`` of ``torch.matmul`` in ``dtype`` on ``device``:
    cuBLAS on CUDA, oneDNN (AMX for bf16 where present) on CPU. 2 m k n FLOPs per product; the best
    repeat of the best shape is the figure. ``timer`` replaces the real products (tests)."""
    torch_dtype(dtype)
    cpu_shapes = GEMM_SHAPES_CPU_FP32 if dtype == "fp32" else GEMM_SHAPES_CPU
    shapes = tuple(shapes or (GEMM_SHAPES_CUDA if is_cuda(device) else cpu_shapes))
    if not shapes or repeats < 1:
        raise ValueError("gemm_peak needs at least one shape and repeats >= 1")
    run = timer or _torch_gemm_timer(device, dtype, repeats)
    best, best_shape = 0.0, shapes[0]
    for shape in shapes:
        m, k, n = shape
        if min(shape) < 1:
            raise ValueError(f"GEMM shape must be positive, got {shape}")
        ms = min(run(shape))
        rate = 2.0 * m * k * n / (ms / 1e3) / 1e9 if ms > 0 else 0.0
        if rate > best:
            best, best_shape = rate, shape
    return best, best_shape


def measure_peak(device: str = "cpu", dtype: str = "fp32", *, n: int | None = None, repeats: int = 5) -> float:
    """Dense ``n`` x ``n`` matrix-multiply GFLOP/s in ``dtype`` (default n: 2048 on CPU, 8192 on GPU), best
    of ``repeats``: the GEMM rate (one probe of :func:`measure_roofline`, not the ceiling by itself)."""
    torch_dtype(dtype)
    if n is None:
        n = 8192 if is_cuda(device) else 2048
    if n < 1:
        raise ValueError(f"matrix size must be >= 1, got {n}")
    return gemm_peak(device, dtype, shapes=((n, n, n),), repeats=repeats)[0]


# ----------------------------------------------------------------------------------------- bandwidth

def copy_bandwidth(device: str = "cpu", *, mib: int = COPY_MIB, repeats: int = 5) -> float:
    """GB/s of a STREAM-like copy of a ``mib`` MiB float32 buffer (bytes read + written), best of repeats."""
    import torch

    if mib < 1 or repeats < 1:
        raise ValueError(f"mib and repeats must be >= 1, got {mib}, {repeats}")
    n = mib * 2**20 // 4
    src = torch.ones(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    times = time_callable(lambda: dst.copy_(src), device=device, warmup=1, iters=repeats)
    return 2.0 * n * 4 / (min(times) / 1e3) / 1e9


# ------------------------------------------------------------------------------------------ roofline

def theoretical_peak(info: CpuInfo, dtype: str = "fp32") -> tuple[float | None, str]:
    """(GFLOP/s, how it was derived) from the CPU flags at the nominal clock, or (None, why not)."""
    torch_dtype(dtype)
    if not info.mhz:
        return None, "no clock in /proc/cpuinfo"
    ghz = info.mhz / 1e3
    units = max(info.fma_units, 1)
    fp32_per_cycle = units * info.fp32_lanes * (2 if info.fma_units else 1)
    how = f"{info.cores} cores x {units} FMA units x {info.fp32_lanes} fp32 lanes x 2 FLOP x {ghz:.2f} GHz"
    if dtype == "bf16" and "amx_bf16" in info.flags:
        return info.cores * 2048 * ghz, f"{info.cores} cores x AMX 1024 bf16 FMA/cycle x 2 FLOP x {ghz:.2f} GHz"
    if dtype == "bf16" and "avx512_bf16" in info.flags:
        return (info.cores * units * 64 * ghz,
                f"{info.cores} cores x {units} units x vdpbf16ps 32 bf16 pairs x 2 FLOP x {ghz:.2f} GHz")
    if dtype == "fp16" and "amx_fp16" in info.flags:
        return info.cores * 2048 * ghz, f"{info.cores} cores x AMX 1024 fp16 FMA/cycle x 2 FLOP x {ghz:.2f} GHz"
    if dtype == "fp16" and "avx512_fp16" in info.flags:
        return (info.cores * units * info.fp32_lanes * 2 * 2 * ghz,
                f"{info.cores} cores x {units} FMA units x {2 * info.fp32_lanes} fp16 lanes x 2 FLOP x {ghz:.2f} GHz")
    suffix = "" if dtype == "fp32" else f" ({dtype} computed in fp32: no {dtype} units in the flags)"
    return info.cores * fp32_per_cycle * ghz, how + suffix


@dataclass(frozen=True)
class Roofline:
    """The ceilings a throughput row is compared with, and how each was obtained (recorded in run.json).

    ``peak_gflops_per_s``: the measured compute ceiling in ``dtype`` (the best of ``probes``);
    ``theoretical_gflops_per_s``: the flags' figure at the nominal clock (None on GPUs);
    ``bandwidth_gb_per_s``: the STREAM-like copy rate (None when not measured).
    """

    device: str
    dtype: str
    peak_gflops_per_s: float
    peak_method: str
    theoretical_gflops_per_s: float | None = None
    theoretical_method: str = ""
    bandwidth_gb_per_s: float | None = None
    bandwidth_method: str = ""
    probes: Mapping[str, float] = field(default_factory=dict)

    @property
    def ridge_flops_per_byte(self) -> float | None:
        """Arithmetic intensity above which a kernel can be compute bound (peak / bandwidth)."""
        if not self.bandwidth_gb_per_s:
            return None
        return self.peak_gflops_per_s / self.bandwidth_gb_per_s

    def record(self) -> dict[str, Any]:
        """The run.json form (plain JSON types)."""
        out = asdict(self)
        out["probes"] = {k: float(v) for k, v in self.probes.items()}
        out["ridge_flops_per_byte"] = self.ridge_flops_per_byte
        return out


def measure_roofline(device: str = "cpu", dtype: str = "fp32", *, bandwidth: bool = True,
                     fma: Callable[[], float] | None = None, gemm: Callable[[], tuple[float, Any]] | None = None,
                     copy: Callable[[], float] | None = None, info: CpuInfo | None = None,
                     tf32: bool | None = None, dot: Callable[[], float] | None = None) -> Roofline:
    """Measure the ceilings of ``device`` in ``dtype`` now (a few seconds). The probes default to the real
    ones (:func:`fma_peak`, :func:`gemm_peak`, :func:`copy_bandwidth`, and for bf16 on a CPU with
    avx512_bf16 :func:`bf16_dot_peak`); tests pass fakes."""
    torch_dtype(dtype)
    probes: dict[str, float] = {}
    gemm = gemm or (lambda: gemm_peak(device, dtype))
    if is_cuda(device):
        if tf32 is None:
            import torch

            tf32 = dtype == "fp32" and bool(torch.backends.cudnn.allow_tf32)
        if tf32:
            import torch

            old = torch.backends.cuda.matmul.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = True
            try:
                rate, shape = gemm()
            finally:
                torch.backends.cuda.matmul.allow_tf32 = old
        else:
            rate, shape = gemm()
        kind = "tf32" if tf32 else dtype
        probes[f"cublas_gemm_{kind}"] = rate
        peak, method = rate, (f"best of cuBLAS GEMM shapes in {kind} (torch.matmul, CUDA events): "
                              f"{'x'.join(map(str, shape))} (m x k x n)")
        theo, theo_how = None, "not derived for GPUs"
    else:
        info = info or cpu_info()
        theo, theo_how = theoretical_peak(info, dtype)
        rate, shape = gemm()
        gemm_name = f"torch_matmul_{dtype}"
        probes[gemm_name] = rate
        try:
            probes["fma_microkernel_fp32"] = (fma or fma_peak)()
        except PeakUnavailable:
            pass
        if dtype == "bf16":
            try:
                probes["bf16_dot_microkernel"] = (dot or bf16_dot_peak)()
            except PeakUnavailable:
                pass
        best = max(probes, key=lambda k: probes[k])
        peak = probes[best]
        shape_s = "x".join(map(str, shape))
        if best == "fma_microkernel_fp32":
            method = (f"FMA microkernel: {FMA_CHAINS} chains of {info.fp32_lanes}-lane fp32 FMAs on "
                      f"{info.cores} threads (llvmlite), best of 5 bursts; beats the {dtype} matmul "
                      f"{probes[gemm_name]:.1f} GFLOP/s ({shape_s})")
        elif best == "bf16_dot_microkernel":
            method = (f"bf16 dot-product microkernel: {DOT_CHAINS} chains of vdpbf16ps (16 lanes x 2 bf16 pairs) "
                      f"on {info.cores} threads (llvmlite), best of 5 bursts; beats the bf16 matmul "
                      f"{probes[gemm_name]:.1f} GFLOP/s ({shape_s})")
        else:
            engine = "AMX tiles" if (dtype == "bf16" and "amx_bf16" in info.flags) else "oneDNN"
            method = (f"best of torch.matmul shapes in {dtype} ({engine}): {shape_s}; FMA microkernel "
                      f"{probes.get('fma_microkernel_fp32', float('nan')):.1f} GFLOP/s fp32")
    bw, bw_how = None, ""
    if bandwidth:
        bw = (copy or (lambda: copy_bandwidth(device)))()
        probes["stream_copy_gb_per_s"] = bw
        bw_how = f"STREAM-like copy of {COPY_MIB} MiB float32 (read + write bytes), best of 5"
    return Roofline(device=device, dtype=dtype, peak_gflops_per_s=float(peak), peak_method=method,
                    theoretical_gflops_per_s=theo, theoretical_method=theo_how,
                    bandwidth_gb_per_s=bw, bandwidth_method=bw_how, probes=probes)


# ------------------------------------------------------------------------------------ ceiling checks

CEILING_DRIFT = 0.15  # before vs after (or vs the run's roofline) more than 15 % apart: the machine was busy
CEILING_MIN_OF_THEORETICAL = 0.6  # a ceiling below 0.6 of the flags' figure: other work holds the cores
BURST_S = 0.04  # x 3 bursts: about 0.15 s per check


def ceiling_burst(device: str = "cpu", dtype: str = "fp32", *, burst_s: float = BURST_S, repeats: int = 3) -> float:
    """A short measurement of the compute ceiling (GFLOP/s), for checking that the machine is as quiet as
    when the roofline was measured: on a CPU the fp32 FMA microkernel on all cores (best of ``repeats``
    bursts of ``burst_s``; a 1024^3 matmul where llvmlite is missing), on CUDA one 4096^3 GEMM shape in
    ``dtype``. It gauges how busy the machine is, whatever the timed dtype."""
    if is_cuda(device):
        return gemm_peak(device, dtype, shapes=((4096, 4096, 4096),), repeats=repeats)[0]
    try:
        return fma_peak(burst_s=burst_s, repeats=repeats)
    except PeakUnavailable:
        return gemm_peak(device, "fp32", shapes=((1024, 1024, 1024),), repeats=repeats)[0]


def reference_ceiling(roofline: Roofline | None) -> tuple[float | None, float | None]:
    """(the roofline's probe comparable with :func:`ceiling_burst`, the fp32 theoretical figure) for
    :func:`check_ceilings`: on a CPU the FMA microkernel's rate and the flags' fp32 figure; on CUDA none
    (the roofline's GEMM shapes differ from the burst's, and no theoretical figure is derived)."""
    if roofline is None or is_cuda(roofline.device):
        return None, None
    ref = roofline.probes.get("fma_microkernel_fp32")
    theo = roofline.theoretical_gflops_per_s if roofline.dtype == "fp32" else theoretical_peak(cpu_info())[0]
    return (float(ref) if ref else None), theo


@dataclass(frozen=True)
class CeilingCheck:
    """Whether a model's "of peak" can be trusted: the ceiling just before and after its timing."""

    before: float | None
    after: float | None
    load_avg_1m: float | None
    reliable: bool | None  # None: not checked
    note: str = ""


def check_ceilings(before: float | None, after: float | None, *, earlier: float | None = None,
                   theoretical: float | None = None, load_avg_1m: float | None = None,
                   drift: float = CEILING_DRIFT,
                   min_of_theoretical: float = CEILING_MIN_OF_THEORETICAL) -> CeilingCheck:
    """Judge a model's ceilings (GFLOP/s). Unreliable when before and after differ by more than ``drift``
    (of the larger), when the lower one is more than ``drift`` below ``earlier`` (the run's roofline probe
    of the same kernel), or below ``min_of_theoretical`` x ``theoretical``. The note names the figures:
    "machine busy: ceiling 49 vs 230 GFLOP/s earlier"."""
    if not before or not after:
        return CeilingCheck(before, after, load_avg_1m, None, "ceiling not checked" if before or after else "")
    low, high = min(before, after), max(before, after)
    load = "" if load_avg_1m is None else f", load average {load_avg_1m:.1f}"
    if high - low > drift * high:
        why = f"ceiling {before:.0f} before vs {after:.0f} GFLOP/s after the timing"
    elif earlier and earlier - low > drift * earlier:
        why = f"ceiling {low:.0f} vs {earlier:.0f} GFLOP/s earlier"
    elif theoretical and low < min_of_theoretical * theoretical:
        why = f"ceiling {low:.0f} vs {theoretical:.0f} GFLOP/s theoretical"
    else:
        return CeilingCheck(before, after, load_avg_1m, True)
    return CeilingCheck(before, after, load_avg_1m, False, f"machine busy: {why}{load}: of peak unreliable")
