"""tests/benchmarks/gpu_check.py on a CPU: every piece the GPU script calls, driven by fakes or tiny sizes."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from srbench.perf.bench import ThroughputRow
from srbench.perf.peak import Roofline
from tests.perf.fakes import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_check  # noqa: E402


def test_event_timing_check_agrees_with_the_host_clock_and_catches_disagreement() -> None:
    clock = FakeClock()
    good = gpu_check.event_timing_check("cpu", 20.0, sleep=clock.advance, clock=clock)
    assert good["ok"] and good["events_ms"] == pytest.approx(20.0) and good["host_ms"] == pytest.approx(20.0)
    calls = {"n": 0}

    def uneven(ms: float) -> None:  # the 'event' calls (first 6) take 20 ms, the host-timed ones 40 ms
        calls["n"] += 1
        clock.advance(ms if calls["n"] <= 6 else 2 * ms)

    bad = gpu_check.event_timing_check("cpu", 20.0, sleep=uneven, clock=clock)
    assert not bad["ok"]


def test_roofline_rows_with_a_fake_measure() -> None:
    seen = []

    def measure(device: str, dtype: str, bandwidth: bool) -> Roofline:
        seen.append((device, dtype, bandwidth))
        return Roofline(device, dtype, {"fp32": 400e3, "bf16": 800e3, "fp16": 790e3}[dtype], f"fake {dtype}",
                        bandwidth_gb_per_s=4000.0 if bandwidth else None)

    rows = gpu_check.roofline_rows("cuda", measure=measure)
    assert seen == [("cuda", "fp32", True), ("cuda", "bf16", False), ("cuda", "fp16", False)]
    assert [r["peak_gflops_per_s"] for r in rows] == [400e3, 800e3, 790e3] and all(r["ok"] for r in rows)
    table = gpu_check.markdown(rows, "GPU: fake")
    assert "| roofline | bf16 |" in table and "800.0" in table and "copy 4000 GB/s" in table


def test_srresnet_rows_pass_the_requested_settings() -> None:
    calls = []

    def bench(model: object, **kw: object) -> list[ThroughputRow]:
        calls.append(kw)
        return [ThroughputRow("SRResNet", 4, 256, 256, 16, str(kw["dtype"]), "cuda", 2.0, 2.1, 500.0, 524.3, 1, 290.7,
                              145e3, 400e3, 0.36, peak_mem_mb=9000.0, input="256x256")]

    rows = gpu_check.srresnet_rows("cuda", sizes=((256, 256),), dtypes=("bf16", "fp16"), peaks={"bf16": 400e3},
                                   bench=bench, model=object())
    assert [c["dtype"] for c in calls] == ["bf16", "fp16"] and calls[0]["batch"] == 16
    assert calls[0]["peak_gflops"] == 400e3 and calls[1]["peak_gflops"] is None and calls[0]["channels_last"]
    assert rows[0]["tflops"] == pytest.approx(145.0) and rows[0]["ok"]
    assert "| SRResNet x4 srresnet | bf16 | 256x256 | 16 | 2.00 |" in gpu_check.markdown(rows, "GPU: fake")


def test_srresnet_rows_run_for_real_on_a_tiny_cpu_case() -> None:
    from srbench.models.archs.srresnet import SRResNet

    rows = gpu_check.srresnet_rows("cpu", sizes=((8, 8),), batch=2, dtypes=("fp32",), model=SRResNet(4, n_blocks=1),
                                   iters=1)
    assert len(rows) == 1 and rows[0]["ok"] and rows[0]["input"] == "8x8"


def test_training_run_lowers_the_loss_on_a_tiny_cpu_case() -> None:
    losses = gpu_check.train_srresnet("cpu", steps=80, batch=2, crop=16, n_blocks=1, amp="none", lr=3e-3, seed=0)
    assert len(losses) == 80 and all(math.isfinite(v) for v in losses)
    assert gpu_check.loss_lowered(losses, window=20, factor=0.8)  # seed 0: 0.55 -> 0.24
    assert not gpu_check.loss_lowered([1.0] * 20, window=10)
    with pytest.raises(ValueError, match="at least"):
        gpu_check.loss_lowered([1.0], window=10)


def test_synthetic_batch_shapes_and_ranges() -> None:
    lr, hr = gpu_check.synthetic_batch(2, 32, 4, "cpu", torch.Generator().manual_seed(0))
    assert lr.shape == (2, 3, 8, 8) and hr.shape == (2, 3, 32, 32)
    assert 0 <= float(lr.min()) and float(lr.max()) <= 1 and -1 <= float(hr.min()) and float(hr.max()) <= 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU exit")
def test_main_says_so_without_a_gpu(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert gpu_check.main(["--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "no CUDA device" in capsys.readouterr().out


def _smoke(tmp_path: Path, *extra: str) -> dict:
    import json

    assert gpu_check.main(["--device", "cpu", "--smoke", "--out", str(tmp_path), *extra]) == 0
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| roofline | fp32 |" in table and "| roofline | bf16 |" in table and "| training |" in table
    assert "| SRResNet x4 srresnet | fp32 | 16x16 | 2 |" in table and "| SRResNet x4 fused | bf16 |" in table
    return json.loads((tmp_path / "gpu_check.json").read_text())


def test_the_whole_script_runs_end_to_end_on_a_cpu_at_toy_sizes(tmp_path: Path) -> None:
    """main() itself, for real: every section but event timing (CUDA) and compile (a minute; slow test)."""
    out = _smoke(tmp_path, "--skip", "compile")
    assert out["failed"] == [] and not any(r["section"] == "compile" for r in out["rows"])


@pytest.mark.slow
def test_the_whole_script_with_torch_compile_on_a_cpu(tmp_path: Path) -> None:
    out = _smoke(tmp_path)
    assert out["failed"] == [] and any(r["section"] == "compile" and r["ok"] for r in out["rows"])
