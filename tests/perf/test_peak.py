"""srbench.perf.peak: the FMA microkernel computes what it claims, the probes combine into a ceiling, and
the CUDA path (cuBLAS GEMM shapes, TF32) is exercised with fakes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from srbench.perf.env import cpu_info, parse_cpuinfo
from srbench.perf.peak import (
    FMA_CHAINS,
    PeakUnavailable,
    Roofline,
    bf16_dot_peak,
    copy_bandwidth,
    fma_kernel,
    fma_kernel_ir,
    fma_peak,
    gemm_peak,
    measure_peak,
    measure_roofline,
    theoretical_peak,
)
from tests.perf.test_env import SPR, ZEN


@pytest.mark.parametrize("lanes", [8, 16])
def test_the_microkernel_computes_its_recurrence(lanes: int) -> None:
    """kern(reps, a, b): every chain starts at b and is updated acc = acc * a + b reps times; the result is
    lane 0 of the sum of the chains. Checked against float64 arithmetic: the work is really done."""
    kern = fma_kernel(lanes, 4)
    a, b = 0.5, 0.25
    for reps in (0, 1, 3, 40):
        acc = b
        for _ in range(reps):
            acc = acc * a + b
        expect = b if reps == 0 else 4 * acc
        assert kern(reps, a, b) == pytest.approx(expect, rel=1e-6)
    assert "@llvm.fma.v16f32" in fma_kernel_ir(16, 3) and fma_kernel_ir(16, 3).count("call <16 x float>") == 3


def test_fma_peak_is_positive_and_not_above_a_generous_multiple_of_the_theoretical() -> None:
    info = cpu_info()
    rate = fma_peak(threads=1, burst_s=0.02, repeats=2)
    assert rate > 1.0
    theo, _ = theoretical_peak(info, "fp32")
    if theo:  # one thread of the cores at most 2.5x the nominal-clock figure per core (turbo < 2.5x nominal)
        assert rate < 2.5 * theo / info.cores
    with pytest.raises(ValueError, match="positive"):
        fma_peak(threads=0)


def test_theoretical_peak_from_the_flags() -> None:
    spr = parse_cpuinfo(SPR, cores=4)
    fp32, how = theoretical_peak(spr, "fp32")
    assert fp32 == pytest.approx(4 * 2 * 16 * 2 * 2.0) and "16 fp32 lanes" in how
    bf16, how = theoretical_peak(spr, "bf16")
    assert bf16 == pytest.approx(4 * 2048 * 2.0) and "AMX" in how
    fp16, _ = theoretical_peak(spr, "fp16")
    assert fp16 == pytest.approx(4 * 2 * 32 * 2 * 2.0)
    zen = parse_cpuinfo(ZEN, cores=8)
    assert theoretical_peak(zen, "bf16")[0] == pytest.approx(8 * 2 * 8 * 2 * 2.45)  # no bf16 units: fp32 rate
    assert theoretical_peak(parse_cpuinfo("flags : avx\n", 1), "fp32") == (None, "no clock in /proc/cpuinfo")


def test_gemm_peak_picks_the_best_shape_with_a_fake_timer() -> None:
    ms = {(100, 200, 300): [4.0, 2.0], (10, 10, 10): [1e-3, 1e-3], (1000, 1000, 1000): [10.0]}
    rate, shape = gemm_peak("cuda", "bf16", shapes=tuple(ms), timer=lambda s: ms[s])
    assert shape == (1000, 1000, 1000) and rate == pytest.approx(2 * 1e9 / 1e-2 / 1e9)
    with pytest.raises(ValueError, match="dtype"):
        gemm_peak("cpu", "int8")


def test_the_cpu_gemm_probe_skips_the_wide_shape_only_in_fp32() -> None:
    seen: dict[str, list[tuple[int, int, int]]] = {"fp32": [], "bf16": []}
    for dtype, shapes in seen.items():
        gemm_peak("cpu", dtype, timer=lambda s, shapes=shapes: shapes.append(s) or [1.0])
    assert seen["bf16"] == [(2048, 2048, 2048), (1024, 4096, 1024), (4096, 1024, 4096)]  # AMX may favour any
    assert seen["fp32"] == [(2048, 2048, 2048), (1024, 4096, 1024)]  # the FMA microkernel is the fp32 ceiling


def test_measure_peak_is_a_positive_plausible_rate() -> None:
    peak = measure_peak("cpu", "fp32", n=256, repeats=3)
    assert 0.1 < peak < 1e5  # GFLOP/s; a 2-core CPU runs tens to hundreds
    with pytest.raises(ValueError, match="dtype"):
        measure_peak("cpu", "int8")


def test_cpu_roofline_is_the_best_probe_and_records_its_method() -> None:
    spr = parse_cpuinfo(SPR, cores=4)
    r = measure_roofline("cpu", "fp32", fma=lambda: 400.0, gemm=lambda: (300.0, (8, 8, 8)), copy=lambda: 20.0,
                         info=spr)
    assert r.peak_gflops_per_s == 400.0 and r.peak_method.startswith("FMA microkernel") and "300.0" in r.peak_method
    assert r.theoretical_gflops_per_s == pytest.approx(512.0) and r.bandwidth_gb_per_s == 20.0
    assert r.ridge_flops_per_byte == pytest.approx(20.0)
    rec = json.loads(json.dumps(r.record()))  # plain JSON for run.json
    assert rec["probes"] == {"torch_matmul_fp32": 300.0, "fma_microkernel_fp32": 400.0, "stream_copy_gb_per_s": 20.0}
    def no_dot() -> float:
        raise PeakUnavailable("no avx512_bf16 (fake)")

    bf16 = measure_roofline("cpu", "bf16", fma=lambda: 400.0, gemm=lambda: (900.0, (8, 8, 8)), bandwidth=False,
                            info=spr, dot=no_dot)
    assert bf16.peak_gflops_per_s == 900.0 and "AMX tiles" in bf16.peak_method and bf16.bandwidth_gb_per_s is None
    dot = measure_roofline("cpu", "bf16", fma=lambda: 400.0, gemm=lambda: (700.0, (8, 8, 8)), dot=lambda: 800.0,
                           bandwidth=False, info=spr)
    assert dot.peak_gflops_per_s == 800.0 and dot.peak_method.startswith("bf16 dot-product microkernel")
    assert dot.probes["bf16_dot_microkernel"] == 800.0 and "700.0" in dot.peak_method
    fp32 = measure_roofline("cpu", "fp32", fma=lambda: 400.0, gemm=lambda: (300.0, (8, 8, 8)), dot=lambda: 800.0,
                            bandwidth=False, info=spr)
    assert "bf16_dot_microkernel" not in fp32.probes  # bf16 products are no fp32 ceiling


def test_the_bf16_dot_kernel_computes_its_recurrence() -> None:
    """op="dpbf16": acc += lo(a)^2 + hi(a)^2 per lane, a's fp32 bits read as a (low, high) bf16 pair: for
    a = 0.5 (0x3F000000) the pair is (0, 0.5), so each repetition adds 0.25 to every chain."""
    ir = fma_kernel_ir(16, 3, op="dpbf16")
    assert ir.count("call <16 x float> @llvm.x86.avx512bf16.dpbf16ps.512") == 3
    with pytest.raises(ValueError, match="lanes must be 16"):
        fma_kernel_ir(8, 3, op="dpbf16")
    with pytest.raises(ValueError, match="op must be"):
        fma_kernel_ir(16, 3, op="fp8")
    if "avx512_bf16" not in cpu_info().flags:
        with pytest.raises(PeakUnavailable, match="avx512_bf16"):
            bf16_dot_peak()
        pytest.skip("this CPU has no avx512_bf16: the kernel cannot run here")
    kern = fma_kernel(16, 4, op="dpbf16")
    for reps in (0, 1, 3, 40):
        assert kern(reps, 0.5, 1.0) == (1.0 if reps == 0 else 4 * (1.0 + 0.25 * reps))
    rate = bf16_dot_peak(threads=1, burst_s=0.02, repeats=2)
    assert rate > 1.0


def test_cuda_roofline_code_path_with_fakes() -> None:
    """No GPU here: the CUDA branch is driven by fake probes. fp32 with TF32 measures the GEMM in TF32 and
    restores torch's matmul setting afterwards."""
    seen = []

    def gemm() -> tuple[float, tuple[int, int, int]]:
        seen.append(torch.backends.cuda.matmul.allow_tf32)
        return 50_000.0, (8192, 8192, 8192)

    before = torch.backends.cuda.matmul.allow_tf32
    r = measure_roofline("cuda", "fp32", gemm=gemm, copy=lambda: 3000.0, tf32=True)
    assert seen == [True] and torch.backends.cuda.matmul.allow_tf32 == before
    assert r.probes["cublas_gemm_tf32"] == 50_000.0 and "cuBLAS" in r.peak_method and "8192x8192x8192" in r.peak_method
    assert r.theoretical_gflops_per_s is None and r.bandwidth_gb_per_s == 3000.0
    half = measure_roofline("cuda", "fp16", gemm=lambda: (200_000.0, (4096, 4096, 4096)), bandwidth=False, tf32=False)
    assert "cublas_gemm_fp16" in half.probes and half.peak_gflops_per_s == 200_000.0


def test_copy_bandwidth_is_positive() -> None:
    assert copy_bandwidth("cpu", mib=8, repeats=2) > 0.1  # GB/s
    with pytest.raises(ValueError, match="mib"):
        copy_bandwidth("cpu", mib=0)


def test_roofline_without_bandwidth_has_no_ridge() -> None:
    r = Roofline("cpu", "fp32", 100.0, "fake")
    assert r.ridge_flops_per_byte is None and r.record()["ridge_flops_per_byte"] is None
    assert FMA_CHAINS >= 8 and np.isfinite(r.peak_gflops_per_s)


# ------------------------------------------------------------------------------------ ceiling checks

def test_check_ceilings_trusts_a_quiet_machine() -> None:
    from srbench.perf.peak import check_ceilings

    c = check_ceilings(220.0, 230.0, earlier=230.0, theoretical=166.0, load_avg_1m=0.3)
    assert c.reliable is True and c.note == "" and (c.before, c.after, c.load_avg_1m) == (220.0, 230.0, 0.3)


@pytest.mark.parametrize(("before", "after", "earlier", "theoretical", "words"), [
    (230.0, 49.0, None, None, "ceiling 230 before vs 49 GFLOP/s after the timing"),  # > 15 % apart
    (49.0, 48.0, 230.0, None, "ceiling 48 vs 230 GFLOP/s earlier"),  # both low, against the run's roofline
    (90.0, 95.0, None, 166.0, "ceiling 90 vs 166 GFLOP/s theoretical"),  # below 0.6 of the flags' figure
])
def test_check_ceilings_flags_a_busy_machine(before: float, after: float, earlier: float | None,
                                             theoretical: float | None, words: str) -> None:
    from srbench.perf.peak import check_ceilings

    c = check_ceilings(before, after, earlier=earlier, theoretical=theoretical, load_avg_1m=5.9)
    assert c.reliable is False and c.note.startswith("machine busy: ") and words in c.note
    assert ", load average 5.9: of peak unreliable" in c.note


def test_check_ceilings_boundaries_and_missing_figures() -> None:
    from srbench.perf.peak import check_ceilings

    assert check_ceilings(100.0, 86.0).reliable is True  # 14 % apart
    assert check_ceilings(100.0, 84.0).reliable is False  # 16 %
    assert check_ceilings(100.0, 100.0, theoretical=166.0).reliable is True  # 0.60 of it
    assert check_ceilings(None, None).reliable is None and check_ceilings(None, 5.0).note == "ceiling not checked"


def test_reference_ceiling_is_the_rooflines_fma_probe_on_a_cpu_only() -> None:
    from srbench.perf.peak import Roofline, reference_ceiling

    cpu = Roofline("cpu", "fp32", 240.0, "fake", theoretical_gflops_per_s=166.0,
                   probes={"torch_matmul_fp32": 150.0, "fma_microkernel_fp32": 240.0})
    assert reference_ceiling(cpu) == (240.0, 166.0)
    assert reference_ceiling(Roofline("cuda", "fp32", 5e4, "fake", probes={"cublas_gemm_tf32": 5e4})) == (None, None)
    assert reference_ceiling(None) == (None, None)
