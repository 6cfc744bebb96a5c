"""srbench.perf.timing: the timer's logic driven by an injected clock (no wall-clock assertions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srbench.perf.timing import is_cuda, percentile, time_callable
from tests.perf.fakes import FakeClock


def test_time_callable_measures_the_known_time_and_excludes_warmup() -> None:
    clock = FakeClock()
    state = {"n": 0}

    def fn() -> None:
        state["n"] += 1
        clock.advance(300.0 if state["n"] == 1 else 20.0)  # the first call is slow: warm-up must hide it

    times = time_callable(fn, warmup=1, iters=8, clock=clock)
    assert len(times) == 8 and state["n"] == 9
    assert times == pytest.approx([20.0] * 8)


def test_time_callable_without_warmup_sees_the_slow_first_call() -> None:
    """The counter-test: the fake is slow on its first call, and without warm-up the timer must show it."""
    clock = FakeClock()
    state = {"n": 0}

    def fn() -> None:
        state["n"] += 1
        clock.advance(200.0 if state["n"] == 1 else 5.0)

    assert time_callable(fn, warmup=0, iters=3, clock=clock) == pytest.approx([200.0, 5.0, 5.0])


def test_time_callable_time_based_stops_after_min_time() -> None:
    clock = FakeClock()
    times = time_callable(lambda: clock.advance(10.0), warmup=0, iters=None, min_time_s=0.15, clock=clock)
    assert len(times) in (15, 16)  # 15 x 10 ms reach 0.15 s (16 if float rounding lands just below)
    slow = FakeClock()
    assert len(time_callable(lambda: slow.advance(1000.0), warmup=0, min_time_s=0.15, clock=slow)) == 5  # at least 5
    fast = FakeClock()
    assert len(time_callable(lambda: fast.advance(0.0), warmup=0, min_time_s=1.0, max_iters=7, clock=fast)) == 7


def test_time_callable_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="iters"):
        time_callable(lambda: None, iters=0)
    with pytest.raises(ValueError, match="warmup"):
        time_callable(lambda: None, warmup=-1)
    with pytest.raises(ValueError, match="min_time_s"):
        time_callable(lambda: None, min_time_s=-1.0)


def test_time_callable_uses_the_real_clock_by_default() -> None:
    times = time_callable(lambda: sum(range(1000)), warmup=0, iters=3)
    assert len(times) == 3 and all(t >= 0 for t in times)  # no bound on the value: the machine is shared


def test_percentile_is_numpys_linear_percentile() -> None:
    vals = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(vals, 90) == pytest.approx(float(np.percentile(vals, 90))) == pytest.approx(4.6)
    assert percentile(vals, 50) == 3.0


def test_is_cuda() -> None:
    assert is_cuda("cuda") and is_cuda("cuda:1") and not is_cuda("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA path untested here)")
def test_cuda_events_time_a_known_gpu_sleep() -> None:
    cycles_per_ms = torch.cuda.get_device_properties(0).clock_rate  # kHz = cycles per ms
    times = time_callable(lambda: torch.cuda._sleep(int(20 * cycles_per_ms)), device="cuda", warmup=1, iters=5)
    assert 10.0 <= float(np.median(times)) <= 80.0  # a GPU sleep is not slowed by host load
