"""srbench.throughput and srbench.perf.fused: timing against fakes of known runtime, FLOPs against hand
calculations, the fused SRResNet plan against the module, and the throughput.csv contract."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srbench.throughput import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ThroughputRow,
    benchmark_model,
    benchmark_pairs,
    count_flops,
    measure_peak,
    run_bench,
    throughput_vs_batch,
    time_callable,
)


class SleepSR(nn.Module):
    """A 'model' whose runtime is known: sleeps ``ms`` per call (``first_ms`` on its first call).

    Holds one 3x3 conv 3 -> 3 so that it has parameters and a known FLOP count (2*3*3*9 per pixel).
    """

    def __init__(self, scale: int, ms: float, first_ms: float = 0.0) -> None:
        super().__init__()
        self.scale, self.ms, self.first_ms, self.calls = scale, ms, first_ms, 0
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        time.sleep((self.first_ms if self.calls == 1 and self.first_ms else self.ms) / 1e3)
        y = self.conv(x)
        return y.repeat_interleave(self.scale, 2).repeat_interleave(self.scale, 3)


# ------------------------------------------------------------------------------------------- timing

def test_time_callable_measures_a_known_sleep_and_excludes_warmup() -> None:
    state = {"n": 0}

    def fn() -> None:
        state["n"] += 1
        time.sleep(0.3 if state["n"] == 1 else 0.02)  # the first call is slow: warm-up must hide it

    times = time_callable(fn, warmup=1, iters=8)
    assert len(times) == 8 and state["n"] == 9
    assert 19.5 <= float(np.median(times)) <= 30.0
    assert max(times) < 150.0  # the 300 ms first call is not among them


def test_time_callable_without_warmup_sees_the_slow_first_call() -> None:
    """The counter-test: the fake is slow on its first call, and without warm-up the timer must show it."""
    state = {"n": 0}

    def fn() -> None:
        state["n"] += 1
        time.sleep(0.2 if state["n"] == 1 else 0.005)

    times = time_callable(fn, warmup=0, iters=3)
    assert times[0] >= 199.0 and times[1] < 100.0


def test_time_callable_time_based_stops_after_min_time() -> None:
    t0 = time.perf_counter()
    times = time_callable(lambda: time.sleep(0.01), warmup=0, iters=None, min_time_s=0.15)
    assert len(times) >= 5 and 0.15 <= time.perf_counter() - t0 < 1.0
    with pytest.raises(ValueError, match="iters"):
        time_callable(lambda: None, iters=0)
    with pytest.raises(ValueError, match="warmup"):
        time_callable(lambda: None, warmup=-1)


def test_benchmark_model_reports_the_known_time_per_image_and_derived_columns() -> None:
    m = SleepSR(scale=2, ms=40.0, first_ms=400.0)
    (row,) = benchmark_model(m, scale=2, sizes=((16, 24),), batch=4, warmup=2, iters=6, peak_gflops=100.0)
    # one call handles a batch of 4 in 40 ms: 10 ms per image (upper bound generous: shared noisy CPU)
    assert 9.9 <= row.ms_median <= 20.0 and row.ms_p90 >= row.ms_median
    assert row.images_per_s == pytest.approx(1e3 / row.ms_median)
    assert row.mpix_per_s == pytest.approx(16 * 24 * 4 / 1e6 / (row.ms_median / 1e3))
    assert row.params == 3 * 3 * 9 + 3
    assert row.gflops == pytest.approx(2 * 3 * 3 * 9 * 256 * 256 / 1e9)
    flops_timed = 2 * 3 * 3 * 9 * 16 * 24
    assert row.achieved_gflops_per_s == pytest.approx(flops_timed / (row.ms_median / 1e3) / 1e9)
    assert row.peak_fraction == pytest.approx(row.achieved_gflops_per_s / 100.0)
    assert (row.lr_height, row.lr_width, row.batch, row.input, row.n_timed) == (16, 24, 4, "16x24", 6)
    assert row.device == "cpu" and row.device_name.startswith("CPU") and row.threads == torch.get_num_threads()
    assert row.peak_mem_mb is None and row.h2d_ms is None  # CPU: not measured, left empty


def test_fixed_work_achieved_flops_match_an_independent_timing() -> None:
    """A fixed amount of work (one 64->64 3x3 conv): srbench's achieved GFLOP/s agrees with a plain
    best-effort measurement of the same op within a generous factor (shared CPUs are noisy)."""
    conv = nn.Conv2d(64, 64, 3, padding=1).eval()
    x = torch.rand(1, 64, 48, 48)
    with torch.inference_mode():
        ref_ms = float(np.median(time_callable(lambda: conv(x), warmup=2, iters=15)))
    net = nn.Sequential(nn.Conv2d(3, 64, 1), conv, nn.Conv2d(64, 3, 1), nn.Upsample(scale_factor=2))
    (row,) = benchmark_model(net, scale=2, sizes=((48, 48),), warmup=2, iters=15, measure_roofline=False)
    assert row.peak_gflops_per_s is None and row.peak_fraction is None
    flops = 2 * 48 * 48 * (3 * 64 + 64 * 64 * 9 + 64 * 3)
    assert row.achieved_gflops_per_s == pytest.approx(flops / (row.ms_median / 1e3) / 1e9)
    assert 0.3 < row.ms_median / ref_ms < 5.0


def test_benchmark_pairs_times_real_images_per_image() -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, c), dtype=np.uint8) for h, w, c in [(10, 12, 3), (8, 8, 1), (14, 6, 3)]]
    m = SleepSR(scale=3, ms=15.0)
    row = benchmark_pairs(m, images, scale=3, dataset="toyset", repeats=3, peak_gflops=50.0)
    assert row.input == "toyset" and row.n_timed == 3 and row.batch == 1
    assert 14.9 <= row.ms_median <= 35.0
    total_s = 3 * row.ms_median / 1e3  # all images take the same time
    out_px = (10 * 12 + 8 * 8 + 14 * 6) * 9
    assert row.mpix_per_s == pytest.approx(out_px / 1e6 / total_s, rel=0.5)
    assert (row.lr_height, row.lr_width) == (10, 8)  # median LR size
    with pytest.raises(ValueError, match="no LR images"):
        benchmark_pairs(m, [], scale=3, dataset="empty")
    with pytest.raises(ValueError, match="uint8 HWC"):
        benchmark_pairs(m, [np.zeros((4, 4, 2), np.uint8)], scale=3, measure_roofline=False)


def test_batch_sweep_one_row_per_batch() -> None:
    m = SleepSR(scale=2, ms=30.0)
    rows = throughput_vs_batch(m, scale=2, size=(8, 8), batches=(1, 2, 4), warmup=1, iters=4, peak_gflops=10.0)
    assert [r.batch for r in rows] == [1, 2, 4]
    per_call = [r.ms_median * r.batch for r in rows]  # 30 ms per call, shared by the batch
    assert all(29.5 <= t <= 90.0 for t in per_call), per_call
    assert rows[0].ms_median > rows[2].ms_median


def test_bf16_autocast_and_channels_last_are_recorded() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 12, 3, padding=1), nn.PixelShuffle(2))
    (row,) = benchmark_model(net, scale=2, sizes=((12, 12),), dtype="bf16", channels_last=True, warmup=1,
                             iters=3, measure_roofline=False)
    assert (row.dtype, row.channels_last, row.compile) == ("bf16", True, False)
    assert np.isfinite(row.ms_median)


def test_invalid_options_are_value_errors() -> None:
    m = SleepSR(scale=2, ms=0.0)
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


# ------------------------------------------------------------------------------------- FLOPs, peak

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
    from srbench.models.networks import SRResNet

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


def test_measure_peak_is_a_positive_plausible_rate() -> None:
    peak = measure_peak("cpu", "fp32", n=256, repeats=3)
    assert 0.1 < peak < 1e5  # GFLOP/s; a 2-core CPU runs tens to hundreds
    with pytest.raises(ValueError, match="dtype"):
        measure_peak("cpu", "int8")


# ---------------------------------------------------------------------------------------- fused plan

def _random_srresnet(scale: int, seed: int = 0) -> nn.Module:
    from srbench.models.networks import SRResNet

    torch.manual_seed(seed)
    net = SRResNet(scale, n_blocks=3)
    for m in net.modules():  # non-trivial BN statistics and slopes, so folding is really exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
        if isinstance(m, nn.PReLU):
            m.weight.data.uniform_(0.05, 0.4)
    return net.eval()


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("wrapped", [False, True])
def test_fused_plan_equals_the_module(scale: int, wrapped: bool) -> None:
    from srbench.models.srresnet import _ToUnitRange
    from srbench.perf.fused import fuse

    net = _random_srresnet(scale)
    module = _ToUnitRange(net).eval() if wrapped else net
    x = torch.rand(2, 3, 11, 13)
    with torch.inference_mode():
        ref = module(x)
        out = fuse(module)(x)
    assert out.shape == ref.shape == (2, 3, 11 * scale, 13 * scale)
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=1e-4)


def test_fused_plan_generic_path_equals_onednn_path() -> None:
    from srbench.perf.fused import fuse

    net = _random_srresnet(4, seed=1)
    x = torch.rand(1, 3, 9, 9)
    plan = fuse(net)
    generic = fuse(net)
    for c in [generic.head, generic.post, generic.tail, *[c for c, _ in generic.ups],
              *[c for pair in generic.blocks for c in pair]]:
        c.onednn = False
    torch.testing.assert_close(plan(x), generic(x), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("f", [2, 3])
def test_fold_tail_equals_shuffle_then_conv(f: int) -> None:
    from srbench.perf.fused import fold_tail

    torch.manual_seed(f)
    tail = nn.Conv2d(4, 3, 9, padding=4)
    q = torch.rand(1, 4 * f * f, 6, 7)
    w, b, pad = fold_tail(4 * f * f, tail, f)
    got = F.pixel_shuffle(F.conv2d(q, w, b, padding=pad), f)
    torch.testing.assert_close(got, tail(F.pixel_shuffle(q, f)), atol=1e-5, rtol=1e-5)


def test_fuse_rejects_other_networks_and_benchmark_notes_it() -> None:
    from srbench.perf.fused import FusionUnsupported, fuse

    with pytest.raises(FusionUnsupported, match="not an SRResNet"):
        fuse(nn.Conv2d(3, 3, 1))
    (row,) = benchmark_model(SleepSR(2, 0.0), scale=2, sizes=((4, 4),), fused=True, iters=1, warmup=0,
                             measure_roofline=False)
    assert row.fused is False and "not fused" in row.note


def test_benchmark_fused_srresnet_reports_original_flops() -> None:
    net = _random_srresnet(2)
    plain, fused = (benchmark_model(net, scale=2, sizes=((12, 12),), fused=f, iters=2, warmup=1,
                                    measure_roofline=False)[0] for f in (False, True))
    assert fused.fused and not plain.fused
    assert fused.gflops == plain.gflops and fused.params == plain.params


# ----------------------------------------------------------------------------------- run_bench, CSV

def test_run_bench_writes_throughput_csv_with_the_required_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for _ in range(2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = run_bench(["bicubic", "no-such-model", SleepSR(2, 1.0)], [2], sizes=((8, 8), (12, 16)),
                          iters=2, warmup=1, datasets={"toy": images}, out_dir=tmp_path)
    assert any("no-such-model" in str(w.message) for w in caught)
    assert frame.attrs["errors"][0]["model"] == "no-such-model"
    csv = pd.read_csv(tmp_path / "throughput.csv")
    assert list(csv.columns) == list(COLUMNS) and set(REQUIRED_COLUMNS) <= set(csv.columns)
    assert list(csv["model"]) == ["bicubic"] * 3 + ["SleepSR"] * 3
    assert list(csv["input"]) == ["8x8", "12x16", "toy"] * 2
    bic = csv[csv.model == "bicubic"]
    assert bic["gflops"].isna().all() and bic["params"].isna().all()  # not a torch module
    sleep = csv[csv.model == "SleepSR"]
    assert (sleep["peak_gflops_per_s"] > 0).all() and (sleep["peak_fraction"] > 0).all()
    assert (csv["ms_median"] > 0).all() and (csv["scale"] == 2).all()


def test_run_bench_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="no models"):
        run_bench([], [2])
    with pytest.raises(ValueError, match="no scales"):
        run_bench(["bicubic"], [])


def test_row_fields_include_the_schema() -> None:
    assert set(REQUIRED_COLUMNS) <= {f for f in ThroughputRow.__dataclass_fields__}


def test_importing_throughput_does_not_import_torch() -> None:
    code = "import sys, srbench.throughput, srbench.distributed; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------ slow / GPU paths

@pytest.mark.slow
def test_compile_path_runs_and_matches_eager() -> None:
    net = _random_srresnet(2)
    (row,) = benchmark_model(net, scale=2, sizes=((16, 16),), compile=True, iters=2, warmup=1,
                             measure_roofline=False)
    assert row.compile and np.isfinite(row.ms_median)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA path untested here)")
def test_cuda_events_time_a_known_gpu_sleep() -> None:
    cycles_per_ms = torch.cuda.get_device_properties(0).clock_rate  # kHz = cycles per ms
    times = time_callable(lambda: torch.cuda._sleep(int(20 * cycles_per_ms)), device="cuda", warmup=1, iters=5)
    assert 15.0 <= float(np.median(times)) <= 40.0
    (row,) = benchmark_model(SleepSR(2, 0.0), scale=2, sizes=((32, 32),), device="cuda", iters=3,
                             peak_gflops=1.0)
    assert row.peak_mem_mb is not None and row.peak_mem_mb > 0 and row.h2d_ms is not None


def test_benchmark_pairs_over_set5_x4_lr_images(shared_datasets: Path) -> None:
    """Real images: the official Set5 x4 LR files, timed per image through an SRModel (bicubic)."""
    from srbench.data.io import list_images, read_image
    from srbench.registry import get_model

    lrs = [read_image(p) for p in list_images(shared_datasets / "Set5" / "LR_bicubic" / "X4")]
    assert len(lrs) == 5
    row = benchmark_pairs(get_model("bicubic", 4), lrs, scale=4, dataset="set5", repeats=2,
                          measure_roofline=False)
    assert (row.model, row.input, row.n_timed, row.scale) == ("bicubic", "set5", 5, 4)
    assert row.gflops is None and row.ms_median > 0
    out_px = sum(im.shape[0] * im.shape[1] * 16 for im in lrs)
    assert row.mpix_per_s == pytest.approx(out_px / 1e6 / (5 / row.images_per_s))


def test_adapter_on_another_device_is_refused() -> None:
    from srbench.registry import get_model

    model = get_model("bicubic", 2)
    model.device = "cuda:1"  # as if built for a GPU: its inputs would have to live there
    with pytest.raises(ValueError, match="built for device 'cuda:1', not 'cpu'"):
        benchmark_model(model, scale=2, device="cpu", measure_roofline=False)


def test_run_bench_accepts_the_evaluate_loops_built_models(tmp_path: Path) -> None:
    """evaluate.py passes {scale: {name: adapter}}; rows keep the adapter's name and the scale."""
    from srbench.registry import get_model

    built = {2: {"bicubic": get_model("bicubic", 2)}, 3: {"bicubic": get_model("bicubic", 3)}}
    frame = run_bench(built, sizes=((8, 8),), iters=1, warmup=0, out_dir=tmp_path)
    assert list(zip(frame["model"], frame["scale"], strict=True)) == [("bicubic", 2), ("bicubic", 3)]
    only3 = run_bench(built, [3], sizes=((8, 8),), iters=1, warmup=0)
    assert list(only3["scale"]) == [3]


def test_retain_freed_memory_is_idempotent_and_recorded() -> None:
    from srbench.perf.memory import is_retaining, retain_freed_memory

    first = retain_freed_memory()
    assert retain_freed_memory() == first == is_retaining()
    if sys.platform.startswith("linux"):
        assert first  # glibc: mallopt accepted
        (row,) = benchmark_model(_random_srresnet(2), scale=2, sizes=((8, 8),), fused=True, iters=1, warmup=0,
                                 measure_roofline=False)
        assert "malloc retains freed memory" in row.note


def test_fused_plan_bounds_its_prepacked_weights_and_handles_many_sizes() -> None:
    from srbench.perf.fused import PACKED_SHAPES, fuse

    net = _random_srresnet(2, seed=3)
    plan = fuse(net)
    with torch.inference_mode():
        for h in range(5, 5 + PACKED_SHAPES + 3):
            x = torch.rand(1, 3, h, 7)
            torch.testing.assert_close(plan(x), net(x), atol=2e-5, rtol=1e-4)
    if plan.onednn:
        assert len(plan.head._packed) == PACKED_SHAPES


def test_summary_table_names_the_hardware_and_every_row() -> None:
    from srbench.throughput import rows_to_frame, summary_table

    rows = benchmark_model(SleepSR(2, 1.0), scale=2, sizes=((8, 8), (16, 16)), iters=2, warmup=0, peak_gflops=12.5)
    text = summary_table(rows_to_frame(rows))
    lines = text.splitlines()
    assert len(lines) == 4 and "8x8" in lines[1] and "16x16" in lines[2]
    assert lines[-1].startswith("device: CPU") and "peak 12.5 GFLOP/s" in lines[-1]
