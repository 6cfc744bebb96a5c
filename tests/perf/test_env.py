"""srbench.perf.env: CPU features from /proc/cpuinfo text, one device name and environment for all."""

from __future__ import annotations

from pathlib import Path

import pytest

from srbench.perf.env import cpu_info, describe_device, environment, parse_cpuinfo

SPR = """processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) Platinum 8480+
cpu MHz		: 2000.000
flags		: fpu sse2 avx avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile avx512_fp16

processor	: 1
model name	: something else
flags		: fpu
"""
ZEN = "model name : AMD EPYC 7B13\ncpu MHz : 2450.0\nflags : sse2 avx avx2 fma\n"
ZEN4 = "vendor_id : AuthenticAMD\ncpu family : 25\nmodel name : AMD EPYC 9654\nflags : avx avx2 fma avx512f\n"
ZEN5 = "vendor_id : AuthenticAMD\ncpu family : 26\nmodel name : AMD EPYC\nflags : avx avx2 fma avx512f avx512_bf16\n"
CLIENT = "model name : 11th Gen Intel(R) Core(TM) i7-1165G7\ncpu MHz : 2800\nflags : avx avx2 fma avx512f\n"
OLD = "model name : Some CPU\nflags : sse2 sse4_2\n"


def test_parse_cpuinfo_reads_the_first_entry() -> None:
    info = parse_cpuinfo(SPR, cores=4)
    assert info.model == "Intel(R) Xeon(R) Platinum 8480+" and info.mhz == 2000.0 and info.cores == 4
    assert "amx_tile" in info.flags and "fpu" in info.flags
    assert (info.vector_bits, info.fp32_lanes, info.fma_units) == (512, 16, 2)


@pytest.mark.parametrize(("text", "bits", "units"),
                         [(ZEN, 256, 2), (ZEN4, 512, 1), (ZEN5, 512, 2), (CLIENT, 512, 1), (OLD, 128, 0)])
def test_vector_width_and_fma_units_from_the_flags(text: str, bits: int, units: int) -> None:
    info = parse_cpuinfo(text, cores=2)
    assert (info.vector_bits, info.fma_units) == (bits, units)


def test_missing_cpuinfo_falls_back_to_the_platform(tmp_path: Path) -> None:
    info = cpu_info(tmp_path / "absent")
    assert info.model and info.flags == frozenset() and info.mhz is None and info.cores >= 1


def test_device_name_and_environment_are_one_copy_used_by_run_json_and_rows() -> None:
    import srbench.perf.bench as bench
    import srbench.rundir.record as results

    assert results.environment is environment is bench.environment
    env = environment("cpu")
    assert env["device_name"] == describe_device("cpu") and env["device_name"].startswith("CPU: ")
    assert {"torch", "threads", "cuda", "cudnn_benchmark", "python", "numpy"} <= set(env)
    assert env["cuda"] is None and env["cudnn_benchmark"] is None
