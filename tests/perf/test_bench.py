"""srbench.perf.bench / table: the benchmark passes against fakes of known runtime (an injected clock, no
wall-clock bounds), FLOPs against hand calculations, the roofline's ceiling check, typed run_bench jobs
and the throughput.csv contract."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from srbench.perf.bench import (
    COLUMNS,
    REQUIRED_COLUMNS,
    BenchJob,
    BenchOptions,
    ThroughputRow,
    TimingImages,
    benchmark_model,
    benchmark_pairs,
    jobs_for,
    jobs_from_built,
    run_bench,
    throughput_vs_batch,
)
from srbench.perf.flops import count_flops
from srbench.perf.peak import Roofline
from srbench.perf.table import rows_to_frame, summary_table
from tests.models.test_fused import _random_srresnet
from tests.perf.fakes import ClockSR, FakeClock

CONV_FLOPS_PER_PX = 2 * 3 * 3 * 9  # ClockSR's 3x3 conv 3 -> 3
ROOF = Roofline("cpu", "fp32", 100.0, "fake", bandwidth_gb_per_s=10.0, bandwidth_method="fake copy")


def test_benchmark_model_reports_the_known_time_per_image_and_derived_columns() -> None:
    clock = FakeClock()
    m = ClockSR(scale=2, ms=40.0, first_ms=400.0, clock=clock)
    (row,) = benchmark_model(m, scale=2, sizes=((16, 24),), batch=4, warmup=2, iters=6, roofline=ROOF, clock=clock)
    # one call handles a batch of 4 in 40 ms: 10 ms per image; the 400 ms first call is warm-up
    assert row.ms_median == pytest.approx(10.0) and row.ms_p90 == pytest.approx(10.0)
    assert row.images_per_s == pytest.approx(100.0)
    assert row.mpix_per_s == pytest.approx(16 * 24 * 4 / 1e6 / 0.01)
    assert row.params == 3 * 3 * 9 + 3
    assert row.gflops == pytest.approx(CONV_FLOPS_PER_PX * 256 * 256 / 1e9)
    flops_timed = CONV_FLOPS_PER_PX * 16 * 24
    assert row.achieved_gflops_per_s == pytest.approx(flops_timed / 0.01 / 1e9)
    assert row.peak_gflops_per_s == 100.0 and row.peak_fraction == pytest.approx(row.achieved_gflops_per_s / 100.0)
    assert (row.lr_height, row.lr_width, row.batch, row.input, row.n_timed) == (16, 24, 4, "16x24", 6)
    assert row.device == "cpu" and row.device_name.startswith("CPU") and row.threads == torch.get_num_threads()
    assert row.peak_mem_mb is None and row.h2d_ms is None  # CPU: not measured, left empty
    # 81 FLOP/px over 4 * 3 * (1 + 4) bytes/px = 1.35 FLOP/byte, below the ridge 100 / 10: memory bound
    assert row.bound == "memory" and row.achieved_gb_per_s == pytest.approx(4 * 3 * 16 * 24 * 5 / 0.01 / 1e9)
    assert row.bound_fraction == pytest.approx(row.achieved_gb_per_s / 10.0)


def test_of_peak_never_exceeds_one_a_faster_than_peak_fake_shows_the_check() -> None:
    """A fake that 'runs' its FLOPs faster than the ceiling: the fraction is not reported, the row says why."""
    clock = FakeClock()
    m = ClockSR(scale=2, ms=1e-6, clock=clock)  # 81 * 64 FLOPs in 1 ns = 5184 GFLOP/s > 100
    with pytest.warns(UserWarning, match="exceeds the measured compute ceiling"):
        (row,) = benchmark_model(m, scale=2, sizes=((8, 8),), iters=3, warmup=0, peak_gflops=100.0, clock=clock)
    assert row.achieved_gflops_per_s > 100.0 and row.peak_fraction is None
    assert "exceeds the measured compute ceiling 100" in row.note
    honest = ClockSR(scale=2, ms=1.0, clock=clock)  # 5184 FLOPs in 1 ms: far below
    (ok,) = benchmark_model(honest, scale=2, sizes=((8, 8),), iters=3, warmup=0, peak_gflops=100.0, clock=clock)
    assert 0 < ok.peak_fraction <= 1.0 and "exceeds" not in ok.note


def test_compute_bound_rows_name_the_compute_ceiling() -> None:
    clock = FakeClock()
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1),
                        nn.Conv2d(64, 12, 3, padding=1), nn.PixelShuffle(2))

    class Timed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            clock.advance(50.0)
            return self.net(x)

    (row,) = benchmark_model(Timed(), scale=2, sizes=((16, 16),), iters=2, warmup=0, roofline=ROOF, clock=clock)
    assert row.bound == "compute" and row.bound_fraction == row.peak_fraction
    flops = 2 * 256 * 9 * (3 * 64 + 64 * 64 + 64 * 12)
    assert row.achieved_gflops_per_s == pytest.approx(flops / 0.05 / 1e9)


def test_bicubic_is_memory_bound_and_a_disturbed_bandwidth_is_caught() -> None:
    from srbench.registry import get_model

    model = get_model("bicubic", 2)
    (row,) = benchmark_model(model, scale=2, sizes=((16, 16),), iters=2, warmup=0, roofline=ROOF)
    assert row.gflops is None and row.bound == "memory" and row.bandwidth_gb_per_s == 10.0
    assert row.bound_fraction == pytest.approx(row.achieved_gb_per_s / 10.0)
    tiny = Roofline("cpu", "fp32", 100.0, "fake", bandwidth_gb_per_s=1e-9)
    with pytest.warns(UserWarning, match="bandwidth ceiling"):
        (bad,) = benchmark_model(model, scale=2, sizes=((16, 16),), iters=2, warmup=0, roofline=tiny)
    assert bad.bound_fraction is None and "exceeds the measured bandwidth ceiling" in bad.note


def test_benchmark_pairs_times_real_images_per_image() -> None:
    clock = FakeClock()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, c), dtype=np.uint8) for h, w, c in [(10, 12, 3), (8, 8, 1), (14, 6, 3)]]
    m = ClockSR(scale=3, ms=15.0, clock=clock)
    row = benchmark_pairs(m, images, scale=3, dataset="toyset", repeats=3, peak_gflops=50.0, roofline=ROOF,
                          clock=clock)
    assert row.input == "toyset" and row.n_timed == 3 and row.batch == 1
    assert row.ms_median == pytest.approx(15.0) and row.images_per_s == pytest.approx(1e3 / 15.0)
    out_px = (10 * 12 + 8 * 8 + 14 * 6) * 9
    assert row.mpix_per_s == pytest.approx(out_px / 1e6 / 0.045)
    assert row.achieved_gflops_per_s == pytest.approx(CONV_FLOPS_PER_PX * (120 + 64 + 84) / 0.045 / 1e9)
    assert row.peak_fraction == pytest.approx(row.achieved_gflops_per_s / 50.0)
    assert (row.lr_height, row.lr_width) == (10, 8)  # median LR size
    with pytest.raises(ValueError, match="no LR images"):
        benchmark_pairs(m, [], scale=3, dataset="empty")
    with pytest.raises(ValueError, match="uint8 HWC"):
        benchmark_pairs(m, [np.zeros((4, 4, 2), np.uint8)], scale=3, measure_roofline=False)


def test_batch_sweep_one_row_per_batch() -> None:
    clock = FakeClock()
    m = ClockSR(scale=2, ms=30.0, clock=clock)
    rows = throughput_vs_batch(m, scale=2, size=(8, 8), batches=(1, 2, 4), warmup=1, iters=4, peak_gflops=10.0,
                               clock=clock)
    assert [r.batch for r in rows] == [1, 2, 4]
    assert [r.ms_median for r in rows] == pytest.approx([30.0, 15.0, 7.5])  # 30 ms per call, shared by the batch
    assert all(r.peak_gflops_per_s == 10.0 for r in rows)


def test_bf16_autocast_and_channels_last_are_recorded() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 12, 3, padding=1), nn.PixelShuffle(2))
    (row,) = benchmark_model(net, scale=2, sizes=((12, 12),), dtype="bf16", channels_last=True, warmup=1,
                             iters=3, measure_roofline=False)
    assert (row.dtype, row.channels_last, row.compile) == ("bf16", True, False)
    assert np.isfinite(row.ms_median)


def test_invalid_options_are_value_errors() -> None:
    m = ClockSR(scale=2, ms=0.0, clock=FakeClock())
    with pytest.raises(ValueError, match="dtype"):
        benchmark_model(m, scale=2, dtype="fp8", measure_roofline=False)
    with pytest.raises(ValueError, match="batch"):
        benchmark_model(m, scale=2, batch=0, measure_roofline=False)
    with pytest.raises(ValueError, match="sizes"):
        benchmark_model(m, scale=2, sizes=(), measure_roofline=False)
    with pytest.raises(ValueError, match="positive"):
        benchmark_model(m, scale=2, sizes=((0, 4),), iters=1, measure_roofline=False, flops=False)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            benchmark_model(m, scale=2, device="cuda", measure_roofline=False)
    for bad in (dict(dtype="int8"), dict(batch=0), dict(sizes=()), dict(sizes=((0, 3),)), dict(batches=(0,))):
        with pytest.raises(ValueError):
            BenchOptions(**bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- FLOPs

def srresnet_flops_per_lr_pixel(scale: int, c: int = 64, blocks: int = 16) -> int:
    """Hand count from the SRGAN paper's layer list (docs/protocol.md, "Training recipe"), 2 FLOPs per MAC.

    Convolutions at LR resolution cost 2*k*k*c_in*c_out per LR pixel; a layer at r times the LR
    resolution costs r^2 times that. BN, PReLU, adds and tanh are not counted (FlopCounterMode's rule).
    """
    conv = lambda k, cin, cout: 2 * k * k * cin * cout  # noqa: E731
    total = conv(9, 3, c)  # head 9x9, 3 -> 64
    total += blocks * 2 * conv(3, c, c)  # 16 residual blocks, two 3x3 64 -> 64 each
    total += conv(3, c, c)  # post-residual 3x3 conv
    factors = {2: [2], 3: [3], 4: [2, 2]}[scale]
    res = 1
    for f in factors:  # each stage: 3x3 conv 64 -> 64 f^2 at the current resolution, then shuffle
        total += res * res * conv(3, c, c * f * f)
        res *= f
    total += res * res * conv(9, c, 3)  # tail 9x9 64 -> 3 at the output resolution
    return total


def test_hand_count_is_about_4p4_mflop_per_lr_pixel_for_x4() -> None:
    # 31104 + 32*73728 + 73728 + 294912 + 4*294912 + 16*31104 = 4 436 352
    assert srresnet_flops_per_lr_pixel(4) == 4_436_352


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_flop_counter_agrees_with_the_hand_count_for_srresnet(scale: int) -> None:
    from srbench.models.archs.srresnet import SRResNet

    net = SRResNet(scale).eval()
    assert count_flops(net, (1, 3, 256, 256)) == srresnet_flops_per_lr_pixel(scale) * 256 * 256
    assert count_flops(net, (1, 3, 7, 5)) == srresnet_flops_per_lr_pixel(scale) * 35
    (row,) = benchmark_model(net, scale=scale, sizes=((8, 8),), iters=1, warmup=0, measure_roofline=False)
    assert row.gflops == pytest.approx(srresnet_flops_per_lr_pixel(scale) * 65536 / 1e9)  # ~290.7 at x4


def test_flop_counter_falls_back_to_the_real_device_without_meta_support() -> None:
    class NoMeta(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.device.type == "meta":
                raise RuntimeError("no meta kernel")
            return self.conv(x)

    assert count_flops(NoMeta(), (1, 3, 5, 5)) == 2 * 3 * 4 * 25


# ----------------------------------------------------------------------- preparation, fused plan

def test_benchmark_notes_a_network_the_fused_plan_does_not_know() -> None:
    (row,) = benchmark_model(ClockSR(2, 0.0, FakeClock()), scale=2, sizes=((4, 4),), fused=True, iters=1, warmup=0,
                             measure_roofline=False)
    assert row.fused is False and "not fused" in row.note


def test_benchmark_fused_srresnet_reports_original_flops() -> None:
    net = _random_srresnet(2)
    plain, fused = (benchmark_model(net, scale=2, sizes=((12, 12),), fused=f, iters=2, warmup=1,
                                    measure_roofline=False)[0] for f in (False, True))
    assert fused.fused and not plain.fused
    assert fused.gflops == plain.gflops and fused.params == plain.params


def test_retain_freed_memory_is_idempotent_and_recorded() -> None:
    from srbench.perf.memory import is_retaining, retain_freed_memory

    first = retain_freed_memory()
    assert retain_freed_memory() == first == is_retaining()
    if sys.platform.startswith("linux"):
        assert first  # glibc: mallopt accepted
        (row,) = benchmark_model(_random_srresnet(2), scale=2, sizes=((8, 8),), fused=True, iters=1, warmup=0,
                                 measure_roofline=False)
        assert "malloc retains freed memory" in row.note


class _Adapter:
    """A minimal SRModel; ``module`` (the TorchBacked attribute) only when given."""

    def __init__(self, module: object | None = None, **attrs: object) -> None:
        self.name, self.scale, self.device = "toy", 2, "cpu"
        self.upscale_calls = 0
        if module is not None:
            self.module = module
        self.__dict__.update(attrs)

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        self.upscale_calls += 1
        return lr.repeat_interleave(2, 2).repeat_interleave(2, 3)

    def info(self) -> object:
        return None


def test_adapters_are_timed_through_their_declared_torch_module_or_upscale() -> None:
    from srbench.interfaces import SRModel, TorchBacked

    clock = FakeClock()
    backed = _Adapter(ClockSR(2, 5.0, clock))
    assert isinstance(backed, SRModel) and isinstance(backed, TorchBacked)
    (row,) = benchmark_model(backed, scale=2, sizes=((8, 8),), iters=2, warmup=0, measure_roofline=False, clock=clock)
    assert row.model == "toy" and row.params == 84 and row.ms_median == pytest.approx(5.0) and backed.upscale_calls == 0
    plain = _Adapter()
    assert not isinstance(plain, TorchBacked)
    (row,) = benchmark_model(plain, scale=2, sizes=((8, 8),), iters=2, warmup=0, measure_roofline=False)
    assert row.params is None and row.gflops is None and plain.upscale_calls == 2  # no untimed extra call on CPU
    odd = _Adapter("not a module")  # .module that is not a torch module: timed through upscale
    (row,) = benchmark_model(odd, scale=2, sizes=((8, 8),), iters=1, warmup=0, measure_roofline=False)
    assert row.params is None and odd.upscale_calls == 1


def test_adapter_on_another_device_is_refused() -> None:
    from srbench.registry import get_model

    model = get_model("bicubic", 2)
    model.device = "cuda:1"  # as if built for a GPU: its inputs would have to live there
    with pytest.raises(ValueError, match="built for device 'cuda:1', not 'cpu'"):
        benchmark_model(model, scale=2, device="cpu", measure_roofline=False)


# ----------------------------------------------------------------------------- run_bench, CSV

def test_run_bench_writes_throughput_csv_with_the_required_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    images = (TimingImages("toy", 2, tuple(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for _ in range(2))),
              TimingImages("other-scale", 3, (rng.integers(0, 256, (6, 6, 3), dtype=np.uint8),)))
    jobs = [*jobs_for(["bicubic", "no-such-model"], [2]), BenchJob("sleepy", 2, ClockSR(2, 1.0, FakeClock()))]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_bench(jobs, BenchOptions(sizes=((8, 8), (12, 16)), iters=2, warmup=1), images=images,
                           roofline=ROOF, out_dir=tmp_path)
    assert any("no-such-model" in str(w.message) for w in caught)
    (err,) = result.errors
    assert (err.model, err.scale) == ("no-such-model", 2)
    assert str(err).startswith("no-such-model x2: could not be built: ") and "{" not in str(err)  # a sentence
    assert result.frame.attrs["errors"] == [str(err)] and result.roofline is ROOF
    assert result.frame.attrs["roofline"]["peak_method"] == "fake"
    csv = pd.read_csv(tmp_path / "throughput.csv")
    assert list(csv.columns) == list(COLUMNS) and set(REQUIRED_COLUMNS) <= set(csv.columns)
    assert list(csv["model"]) == ["bicubic"] * 3 + ["ClockSR"] * 3
    assert list(csv["input"]) == ["8x8", "12x16", "toy"] * 2
    bic = csv[csv.model == "bicubic"]
    assert bic["gflops"].isna().all() and bic["params"].isna().all() and (bic["bound"] == "memory").all()
    sleep = csv[csv.model == "ClockSR"]
    assert (sleep["peak_gflops_per_s"] == 100.0).all() and (sleep["peak_fraction"] > 0).all()
    assert (csv["ms_median"] > 0).all() and (csv["scale"] == 2).all()


def test_run_bench_measures_the_roofline_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import srbench.perf.bench as bench

    calls = []

    def fake(device: str, dtype: str) -> Roofline:
        calls.append((device, dtype))
        return ROOF

    monkeypatch.setattr(bench, "measure_roofline", fake)
    clock = FakeClock()
    jobs = [BenchJob("a", 2, ClockSR(2, 1.0, clock)), BenchJob("b", 2, ClockSR(2, 2.0, clock))]
    result = run_bench(jobs, BenchOptions(sizes=((8, 8),), iters=1, warmup=0, batches=(1, 2)), clock=clock)
    assert calls == [("cpu", "fp32")] and len(result.frame) == 6
    assert (result.frame["peak_gflops_per_s"] == 100.0).all()


def test_run_bench_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="no models"):
        run_bench([])
    with pytest.raises(ValueError, match="no models"):
        jobs_for([], [2])
    with pytest.raises(ValueError, match="no scales"):
        jobs_for(["bicubic"], [])
    with pytest.raises(ValueError, match="scale"):
        BenchJob("x", 0)


def test_run_bench_accepts_the_evaluate_loops_built_models(tmp_path: Path) -> None:
    """evaluate.py passes {scale: {name: adapter}}; rows keep the adapter's name and the scale."""
    from srbench.registry import get_model

    built = {2: {"bicubic": get_model("bicubic", 2)}, 3: {"bicubic": get_model("bicubic", 3)}}
    opt = BenchOptions(sizes=((8, 8),), iters=1, warmup=0)
    frame = run_bench(jobs_from_built(built), opt, roofline=ROOF, out_dir=tmp_path).frame
    assert list(zip(frame["model"], frame["scale"], strict=True)) == [("bicubic", 2), ("bicubic", 3)]
    only3 = run_bench(jobs_from_built(built, [3]), opt, roofline=ROOF).frame
    assert list(only3["scale"]) == [3]


def test_row_fields_include_the_schema() -> None:
    assert set(REQUIRED_COLUMNS) <= {f for f in ThroughputRow.__dataclass_fields__}
    assert COLUMNS[:len(REQUIRED_COLUMNS)] == REQUIRED_COLUMNS  # existing columns keep their order


def test_summary_table_names_the_hardware_the_ceilings_and_every_row() -> None:
    clock = FakeClock()
    rows = benchmark_model(ClockSR(2, 1.0, clock), scale=2, sizes=((8, 8), (16, 16)), iters=2, warmup=0,
                           peak_gflops=12.5, clock=clock)
    text = summary_table(rows_to_frame(rows))
    lines = text.splitlines()
    assert len(lines) == 4 and "8x8" in lines[1] and "16x16" in lines[2]
    assert lines[-1].startswith("device: CPU") and "peak 12.5 GFLOP/s" in lines[-1]
    roof = Roofline("cpu", "fp32", 300.0, "FMA microkernel", 250.0, "2 cores x ...", 20.0, "copy")
    rows = benchmark_model(ClockSR(2, 1.0, clock), scale=2, sizes=((8, 8),), iters=2, warmup=0, roofline=roof,
                           clock=clock)
    text = summary_table(rows_to_frame(rows), roof.record())
    assert "compute ceiling: 300.0 GFLOP/s fp32 (FMA microkernel)" in text and "theoretical 250.0" in text
    assert "memory ceiling: 20.0 GB/s" in text and "mem " in text.splitlines()[1]


def test_importing_the_perf_package_does_not_import_torch() -> None:
    code = ("import sys, srbench.distributed, srbench.perf.bench, srbench.perf.peak, "
            "srbench.perf.table, srbench.perf.env; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------- slow / real data

@pytest.mark.slow
def test_compile_path_runs_and_matches_eager() -> None:
    net = _random_srresnet(2)
    (row,) = benchmark_model(net, scale=2, sizes=((16, 16),), compile=True, iters=2, warmup=1,
                             measure_roofline=False)
    assert row.compile and np.isfinite(row.ms_median)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA path untested here)")
def test_cuda_rows_record_memory_and_transfers() -> None:
    (row,) = benchmark_model(ClockSR(2, 0.0, FakeClock()), scale=2, sizes=((32, 32),), device="cuda", iters=3,
                             peak_gflops=1.0)
    assert row.peak_mem_mb is not None and row.peak_mem_mb > 0 and row.h2d_ms is not None


def test_benchmark_pairs_over_set5_x4_lr_images(shared_datasets: Path) -> None:
    """Real images: the official Set5 x4 LR files, timed per image through an SRModel (bicubic)."""
    from srbench.data.io import list_images, read_image
    from srbench.registry import get_model

    lrs = [read_image(p) for p in list_images(shared_datasets / "Set5" / "LR_bicubic" / "X4")]
    assert len(lrs) == 5
    row = benchmark_pairs(get_model("bicubic", 4), lrs, scale=4, dataset="set5", repeats=2, roofline=ROOF)
    assert (row.model, row.input, row.n_timed, row.scale) == ("bicubic", "set5", 5, 4)
    assert row.gflops is None and row.ms_median > 0 and row.bound == "memory"
    out_px = sum(im.shape[0] * im.shape[1] * 16 for im in lrs)
    assert row.mpix_per_s == pytest.approx(out_px / 1e6 / (5 / row.images_per_s))


# ------------------------------------------------------------------------------ adaptive timing, ceilings

def test_a_cell_is_timed_until_its_interval_is_tight_and_the_row_records_it() -> None:
    clock = FakeClock()
    m = ClockSR(2, 4.0, clock, first_ms=50.0)  # slow first call, then steady: stops at the first interval
    (row,) = benchmark_model(m, scale=2, sizes=((8, 8),), roofline=ROOF, clock=clock)
    assert (row.n_calls, row.n_warmup, row.timing_stop) == (6, 1, "ci") and m.calls == 7
    assert row.ms_median == pytest.approx(4.0) and row.ci_low_ms == pytest.approx(4.0) == row.ci_high_ms


def test_a_dataset_cell_rounds_over_its_images_within_one_budget() -> None:
    clock = FakeClock()

    class BySize(nn.Module):  # ms proportional to the input's pixels, from the fake clock
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            clock.advance(x.shape[2] * x.shape[3] / 10.0)
            return x.repeat_interleave(2, 2).repeat_interleave(2, 3)

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, 10, 3), dtype=np.uint8) for h in (10, 20, 40)]  # 10, 20, 40 ms
    row = benchmark_pairs(BySize(), images, scale=2, dataset="toy", roofline=ROOF, clock=clock)
    assert row.ms_median == pytest.approx(20.0) and row.n_timed == 3 and row.n_calls == 18
    assert row.timing_stop == "ci" and row.ci_low_ms == pytest.approx(20.0)
    noisy = benchmark_pairs(ClockSR(2, 1000.0, clock), images, scale=2, dataset="toy", roofline=ROOF, clock=clock,
                            budget_s=2.0)
    assert noisy.timing_stop == "budget" and noisy.n_calls == 9 and noisy.ci_low_ms is None  # 3 rounds of 3 images


def test_run_bench_checks_the_ceiling_around_each_model_and_marks_a_busy_one() -> None:
    clock = FakeClock()
    roof = Roofline("cpu", "fp32", 230.0, "fake", theoretical_gflops_per_s=166.0,
                    probes={"fma_microkernel_fp32": 230.0}, bandwidth_gb_per_s=10.0)
    ceilings = iter([228.0, 225.0, 226.0, 49.0])  # model a: quiet; model b: the machine got busy
    jobs = [BenchJob("a", 2, ClockSR(2, 1.0, clock)), BenchJob("b", 2, ClockSR(2, 2.0, clock))]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = run_bench(jobs, BenchOptions(sizes=((8, 8), (16, 16))), roofline=roof, clock=clock,
                          ceiling=lambda: next(ceilings), load_avg=lambda: 4.5).frame
    a, b = frame[frame.model == "ClockSR"].iloc[:2], frame[frame.model == "ClockSR"].iloc[2:]
    assert list(a["peak_reliable"]) == [True, True] and list(b["peak_reliable"]) == [False, False]
    assert list(b["ceiling_before_gflops_per_s"]) == [226.0] * 2 and list(b["ceiling_after_gflops_per_s"]) == [49.0] * 2
    assert (frame["load_avg_1m"] == 4.5).all()
    assert all("machine busy: ceiling 226 before vs 49 GFLOP/s after the timing" in n for n in b["note"])
    assert not any("machine busy" in n for n in a["note"])
    assert any("machine busy" in str(w.message) for w in caught)
    table = summary_table(frame, roof.record())
    busy_lines = [line for line in table.splitlines() if "busy [1]" in line]
    assert len(busy_lines) == 2  # b's two rows print the footnote mark instead of a fraction
    assert "[1] machine busy: ceiling 226 before vs 49 GFLOP/s after the timing, load average 4.5" in table
    quiet = run_bench(jobs[:1], BenchOptions(sizes=((8, 8),), ceilings=False), roofline=roof, clock=clock).frame
    assert quiet["peak_reliable"].isna().all() and quiet["ceiling_before_gflops_per_s"].isna().all()


def test_the_table_reads_back_a_busy_row_from_throughput_csv(tmp_path: Path) -> None:
    from srbench.perf.table import write_throughput_csv
    from srbench.rundir.frames import _read_throughput

    clock = FakeClock()
    ceilings = iter([200.0, 100.0])
    frame = run_bench([BenchJob("a", 2, ClockSR(2, 1.0, clock))], BenchOptions(sizes=((8, 8),)), roofline=ROOF,
                      clock=clock, ceiling=lambda: next(ceilings), load_avg=lambda: None).frame
    write_throughput_csv(frame, tmp_path)
    back = _read_throughput(tmp_path / "throughput.csv")
    assert {"n_calls", "ci_low_ms", "ci_high_ms", "peak_reliable"} <= set(back.columns)
    assert "busy [1]" in summary_table(back) and "[1] machine busy: ceiling 200 before vs 100" in summary_table(back)
