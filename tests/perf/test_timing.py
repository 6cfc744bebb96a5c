"""srbench.perf.timing: the timer's logic driven by an injected clock (no wall-clock assertions)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from srbench.perf.timing import is_cuda, median_ci, median_ci_ranks, percentile, time_adaptive, time_callable
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


# ------------------------------------------------------------------------------------ adaptive timing

def _coverage(n: int, j: int) -> Fraction:
    """Exact coverage of [x(j), x(n+1-j)] for the median: 1 - 2 P(Binomial(n, 1/2) <= j - 1)."""
    return 1 - 2 * Fraction(sum(math.comb(n, i) for i in range(j)), 2 ** n)


@pytest.mark.parametrize("n", [*range(1, 60), 100, 255, 999, 1000])
def test_median_ci_ranks_are_the_tightest_with_95_percent_coverage(n: int) -> None:
    """Against exact binomial sums in rational arithmetic (an independent computation)."""
    ranks = median_ci_ranks(n)
    if n < 6:  # even [min, max] covers only 1 - 2^(1-n) < 95 %
        assert ranks is None and _coverage(n, 1) < Fraction(95, 100)
        return
    assert ranks is not None
    j, k = ranks
    assert k == n + 1 - j and _coverage(n, j) >= Fraction(95, 100) > _coverage(n, j + 1)


def test_median_ci_ranks_known_values_and_the_normal_approximation_beyond_1000() -> None:
    assert median_ci_ranks(6) == (1, 6) and median_ci_ranks(10) == (2, 9) and median_ci_ranks(20) == (6, 15)
    for n in (1001, 2000):  # the approximation still covers 95 %, and is within one rank of the tightest
        j, _ = median_ci_ranks(n)
        assert _coverage(n, j) >= Fraction(95, 100) and _coverage(n, j + 2) < Fraction(95, 100)
    with pytest.raises(ValueError, match="n must be"):
        median_ci_ranks(0)
    with pytest.raises(ValueError, match="confidence"):
        median_ci_ranks(10, 1.5)


def test_median_ci_picks_the_order_statistics() -> None:
    vals = [9.0, 1.0, 8.0, 2.0, 7.0, 3.0, 6.0, 4.0, 5.0, 10.0]  # sorted 1..10: ranks (2, 9)
    assert median_ci(vals) == (2.0, 9.0)
    assert median_ci(vals[:5]) is None and median_ci([]) is None


class _Script:
    """A callable whose k-th call advances the fake clock by ``ms[k]`` (the last value repeats)."""

    def __init__(self, clock: FakeClock, ms: list[float]) -> None:
        self.clock, self.ms, self.calls = clock, ms, 0

    def __call__(self) -> None:
        self.clock.advance(self.ms[min(self.calls, len(self.ms) - 1)])
        self.calls += 1


def test_adaptive_timing_stops_early_when_the_interval_is_tight() -> None:
    clock = FakeClock()
    fn = _Script(clock, [10.0, 10.1, 9.9] * 100)
    t = time_adaptive([fn], budget_s=2.0, clock=clock)
    assert t.stop == "ci" and t.settled and t.warmup_rounds == 0
    assert t.n_calls == 6 == fn.calls  # the first count with a 95 % interval; far below the 2 s budget
    assert (t.median_ms, t.ci_low_ms, t.ci_high_ms) == pytest.approx((10.0, 9.9, 10.1))


def test_adaptive_timing_stops_at_the_budget_when_noisy() -> None:
    clock = FakeClock()
    noisy = [10.0, 10.5, *np.random.default_rng(0).uniform(10.0, 30.0, 5000)]  # settles, then +-50 %
    t = time_adaptive([_Script(clock, noisy)], budget_s=2.0, clock=clock)
    assert t.stop == "budget" and t.settled
    assert 2000.0 <= sum(t.all_ms) <= 2000.0 + 30.0  # the timed calls fill the budget, one call more at most
    assert t.ci_low_ms < 0.98 * t.median_ms and t.ci_high_ms > 1.02 * t.median_ms  # never within 2 %
    capped = time_adaptive([_Script(clock, noisy)], budget_s=2.0, max_calls=50, clock=clock)
    assert capped.stop == "max_calls" and capped.n_calls == 50


def test_adaptive_timing_gives_a_slow_model_at_least_three_calls() -> None:
    clock = FakeClock()
    fn = _Script(clock, [1000.0, 1050.0, 1100.0, 1000.0])
    t = time_adaptive([fn], budget_s=2.0, clock=clock)
    assert t.stop == "budget" and t.n_calls == 3 and t.ci_low_ms is None  # 3 calls: no 95 % interval yet
    assert t.all_ms == pytest.approx([1000.0, 1050.0, 1100.0])


def test_warm_up_runs_until_two_consecutive_calls_agree_within_10_percent() -> None:
    clock = FakeClock()
    fn = _Script(clock, [300.0, 100.0, 50.0, 46.0] + [46.0] * 100)  # 46 vs 50 is the first pair within 10 %
    t = time_adaptive([fn], budget_s=1.0, clock=clock)
    assert t.warmup_rounds == 2 and t.settled and t.all_ms[:2] == pytest.approx([50.0, 46.0])  # the pair is timed
    assert t.stop == "ci" and t.n_calls == 9  # the 50 bounds the interval until n = 9 (ranks 2 and 8)
    fn = _Script(clock, [300.0, 250.0] + [100.0] * 100)  # 250 vs 300 is 17 % apart: not settled yet
    t = time_adaptive([fn], budget_s=1.0, clock=clock)
    assert t.warmup_rounds == 2 and t.settled and t.all_ms[:2] == pytest.approx([100.0, 100.0])


def test_warm_up_is_capped_in_calls_and_in_time() -> None:
    clock = FakeClock()
    fn = _Script(clock, [10.0, 30.0] * 100)  # never two within 10 %
    t = time_adaptive([fn], budget_s=60.0, max_warmup=10, clock=clock)
    assert not t.settled and t.warmup_rounds == 10 and fn.calls == 10 + t.n_calls
    slow = _Script(clock, [1500.0, 3000.0] * 100)  # the time cap: two calls take more than the 2 s budget
    t = time_adaptive([slow], budget_s=2.0, clock=clock)
    assert not t.settled and t.warmup_rounds == 2 and t.n_calls == 3


def test_adaptive_timing_of_a_dataset_cell_rounds_over_its_inputs() -> None:
    clock = FakeClock()
    a, b, c = (_Script(clock, [ms] * 100) for ms in (10.0, 20.0, 40.0))
    t = time_adaptive([a, b, c], budget_s=2.0, clock=clock)
    assert t.per_input_ms == pytest.approx([10.0, 20.0, 40.0]) and t.median_ms == pytest.approx(20.0) and t.stop == "ci"
    assert t.rounds == 6 and t.n_calls == 18 and a.calls == b.calls == c.calls == 6
    assert (t.ci_low_ms, t.ci_high_ms) == pytest.approx((20.0, 20.0))


def test_fixed_warmup_and_iters_still_time_exactly_that_many_calls() -> None:
    clock = FakeClock()
    fn = _Script(clock, [200.0, 5.0, 6.0, 7.0, 8.0])
    t = time_adaptive([fn], warmup=1, iters=4, clock=clock)
    assert t.stop == "fixed" and t.all_ms == pytest.approx([5.0, 6.0, 7.0, 8.0]) and fn.calls == 5
    with pytest.raises(ValueError, match="iters"):
        time_adaptive([fn], iters=0)
    with pytest.raises(ValueError, match="at least one"):
        time_adaptive([])
