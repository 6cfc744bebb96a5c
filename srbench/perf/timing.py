"""Timing a callable: docs/protocol.md, "Throughput measurement" (forward pass only, after warm-up, input on
the device).

On a GPU each call is bracketed by CUDA events and the device synchronised before reading them (host
timers would only measure kernel launches); on a CPU a host clock (``time.perf_counter`` unless another
``clock`` is injected, which is how the tests drive this code without real sleeps).

:func:`time_adaptive` times a cell as long as it needs and no longer: warm-up until two consecutive calls
agree within 10 %, then calls until the median's 95 % distribution-free confidence interval (binomial order
statistics, :func:`median_ci`) is within +-2 % of the median, or the cell's budget (the larger of 3 calls
and 2 s by default) is spent. A quiet machine stops early; a noisy one stops at the budget with the
interval it reached, recorded beside the median.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Clock = Callable[[], float]  # seconds, monotonic


def is_cuda(device: str) -> bool:
    """Whether ``device`` names a CUDA device ("cuda", "cuda:1", ...)."""
    return str(device).startswith("cuda")


def synchronize(device: str) -> None:
    """Wait for queued work on ``device`` (no-op on CPU)."""
    if is_cuda(device):
        import torch

        torch.cuda.synchronize(device)


def time_callable(fn: Callable[[], Any], *, device: str = "cpu", warmup: int = 3, iters: int | None = None,
                  min_time_s: float = 1.0, max_iters: int = 10_000, clock: Clock = time.perf_counter) -> list[float]:
    """Milliseconds of each timed call of ``fn()`` (warm-up calls excluded).

    ``warmup`` untimed calls first (first-call costs: CUDA context, cuDNN autotuning, oneDNN weight
    reordering, torch.compile). Then ``iters`` timed calls, or when ``iters`` is None as many as fit in
    ``min_time_s`` (at least 5, at most ``max_iters``). On CUDA each call is bracketed by CUDA events
    and the device is synchronised before reading them; on CPU ``clock`` brackets it.
    """
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if iters is not None and iters < 1:
        raise ValueError(f"iters must be >= 1 (or None for time-based), got {iters}")
    if min_time_s < 0:
        raise ValueError(f"min_time_s must be >= 0, got {min_time_s}")
    for _ in range(warmup):
        fn()
    synchronize(device)
    cuda = is_cuda(device)
    if cuda:
        import torch
    times: list[float] = []
    start_all = clock()
    while True:
        if cuda:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize(device)
            times.append(float(a.elapsed_time(b)))
        else:
            t0 = clock()
            fn()
            times.append((clock() - t0) * 1e3)
        n = len(times)
        if iters is not None:
            if n >= iters:
                break
        elif n >= max_iters or (n >= 5 and clock() - start_all >= min_time_s):
            break
    return times


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``q`` in [0, 100]."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


# ------------------------------------------------------------------------------------ adaptive timing

CONFIDENCE = 0.95  # of the median's interval
CI_TOLERANCE = 0.02  # stop once the interval is within +-2 % of the median
WARMUP_AGREE = 0.10  # warm-up ends when two consecutive rounds agree within 10 %
MAX_WARMUP_ROUNDS = 10
MIN_CALLS = 3  # a cell's budget is the larger of this many rounds and ``budget_s``
BUDGET_S = 2.0
_EXACT_RANKS_UP_TO = 1000  # above, the binomial's normal approximation (the exact sum is O(n) per n)


@functools.lru_cache(maxsize=4096)
def median_ci_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, int] | None:
    """1-based ranks ``(j, k)`` of the order statistics ``x(j) <= median <= x(k)`` that bound the median of
    ``n`` independent samples with probability >= ``confidence``, whatever their distribution.

    The number of samples below the true median is Binomial(n, 1/2), so ``[x(j), x(n+1-j)]`` covers it with
    probability ``1 - 2 P(B <= j - 1)``: ``j`` is the largest rank keeping that >= ``confidence``. None when
    no ``j >= 1`` does (fewer than 6 samples at 95 %: even ``[min, max]`` covers only ``1 - 2^(1-n)``).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1.0 - confidence) / 2.0
    if n > _EXACT_RANKS_UP_TO:
        z = statistics.NormalDist().inv_cdf(1.0 - tail)
        j = int(math.floor((n - z * math.sqrt(n)) / 2.0))  # P(B <= j - 1) <= tail, with continuity correction
    else:
        pmf = 0.5 ** n  # P(B = 0); 2^-1000 is still a normal double
        cdf, j = pmf, 0
        while cdf <= tail:  # cdf = P(B <= j)
            j += 1
            pmf *= (n - j + 1) / j
            cdf += pmf
    return (j, n + 1 - j) if j >= 1 else None


def median_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The distribution-free ``confidence`` interval of the median of ``values`` (:func:`median_ci_ranks`),
    or None when there are too few values for one."""
    ranks = median_ci_ranks(len(values), confidence) if values else None
    if ranks is None:
        return None
    s = sorted(values)
    return s[ranks[0] - 1], s[ranks[1] - 1]


@dataclass(frozen=True)
class AdaptiveTiming:
    """What :func:`time_adaptive` measured: ``times_ms[i]`` are input ``i``'s timed calls (one per round).

    ``median_ms``: the median over inputs of each input's median (one input: its median). ``ci_low_ms`` /
    ``ci_high_ms``: the median over inputs of each input's interval bounds (:func:`median_ci`); the median
    being monotone, they bound ``median_ms`` whenever every input's interval holds its own median. None
    with fewer than 6 rounds. ``warmup_rounds``: rounds discarded; ``settled``: whether the warm-up ended
    by agreement (False: by its cap). ``stop``: "ci" (interval within the tolerance), "budget", "max_calls"
    or "fixed" (a fixed number of calls was asked for).
    """

    times_ms: tuple[tuple[float, ...], ...]
    warmup_rounds: int
    settled: bool
    stop: str
    ci_low_ms: float | None
    ci_high_ms: float | None

    @property
    def rounds(self) -> int:
        return len(self.times_ms[0]) if self.times_ms else 0

    @property
    def n_calls(self) -> int:
        """Timed calls, all inputs together."""
        return sum(len(t) for t in self.times_ms)

    @property
    def per_input_ms(self) -> list[float]:
        """Each input's median."""
        return [statistics.median(t) for t in self.times_ms]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.per_input_ms)

    @property
    def all_ms(self) -> list[float]:
        """Every timed call (one input: its calls in order)."""
        return [t for ts in self.times_ms for t in ts]


def _call_timer(device: str, clock: Clock) -> Callable[[Callable[[], Any]], float]:
    """ms of one call: CUDA events + synchronisation on a GPU, ``clock`` on a CPU."""
    if not is_cuda(device):
        def host(fn: Callable[[], Any]) -> float:
            t0 = clock()
            fn()
            return (clock() - t0) * 1e3

        return host
    import torch

    def events(fn: Callable[[], Any]) -> float:
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize(device)
        return float(a.elapsed_time(b))

    return events


def _interval(times: Sequence[Sequence[float]], confidence: float) -> tuple[float, float] | None:
    cis = [median_ci(t, confidence) for t in times]
    if any(c is None for c in cis):
        return None
    return statistics.median(c[0] for c in cis if c), statistics.median(c[1] for c in cis if c)


def time_adaptive(fns: Sequence[Callable[[], Any]], *, device: str = "cpu", budget_s: float = BUDGET_S,
                  min_calls: int = MIN_CALLS, tolerance: float = CI_TOLERANCE, confidence: float = CONFIDENCE,
                  agree: float = WARMUP_AGREE, max_warmup: int = MAX_WARMUP_ROUNDS, warmup: int | None = None,
                  iters: int | None = None, max_calls: int = 10_000,
                  clock: Clock = time.perf_counter) -> AdaptiveTiming:
    """Time one cell: ``fns`` are its inputs (one for a fixed size, a dataset's images for a dataset), a
    round calls each once, in order, each call timed on its own.

    Warm-up: rounds until two consecutive ones agree within ``agree`` (their totals), at most ``max_warmup``
    rounds or, after two, ``budget_s`` seconds; the agreeing pair is settled and becomes the first two timed
    rounds (discarding it would cost two calls of a slow model for nothing). ``warmup`` given: that many
    rounds discarded instead. Then rounds until the median's ``confidence`` interval is within
    ``tolerance`` of the median (:class:`AdaptiveTiming`), or the budget is spent: at least ``min_calls``
    rounds and ``budget_s`` seconds of timed rounds (so a slow model still gets ``min_calls``), or
    ``max_calls`` rounds. ``iters`` given: exactly that many timed rounds.
    """
    if not fns:
        raise ValueError("time_adaptive needs at least one callable")
    if budget_s < 0 or min_calls < 1 or max_warmup < 1 or max_calls < 1:
        raise ValueError(f"budget_s must be >= 0 and min_calls, max_warmup, max_calls >= 1, got {budget_s}, "
                         f"{min_calls}, {max_warmup}, {max_calls}")
    if warmup is not None and warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if iters is not None and iters < 1:
        raise ValueError(f"iters must be >= 1 (or None for adaptive), got {iters}")
    timer = _call_timer(device, clock)

    def one_round() -> list[float]:
        return [timer(fn) for fn in fns]

    times: list[list[float]] = [[] for _ in fns]
    discarded, settled, pair_s = 0, True, 0.0
    if warmup is not None:
        for _ in range(warmup):
            one_round()
        discarded = warmup
        synchronize(device)
    else:
        warm: list[list[float]] = []
        started = clock()
        while True:
            cur = one_round()
            if warm and abs(sum(cur) - sum(warm[-1])) <= agree * sum(warm[-1]):
                for t, a, b in zip(times, warm[-1], cur, strict=True):
                    t += [a, b]
                discarded, pair_s = len(warm) - 1, (sum(warm[-1]) + sum(cur)) / 1e3
                break
            warm.append(cur)
            if len(warm) >= max_warmup or (len(warm) >= 2 and clock() - started >= budget_s):
                discarded, settled = len(warm), False  # the cap: time from here on, and say so
                break
    timed_from = clock() - pair_s  # the settled pair is part of the cell's budget
    stop = "fixed"
    while True:
        n = len(times[0])
        if iters is not None:
            if n >= iters:
                break
        else:
            ci = _interval(times, confidence) if n >= min_calls else None
            if ci is not None:
                med = statistics.median(statistics.median(t) for t in times)
                if med - ci[0] <= tolerance * med and ci[1] - med <= tolerance * med:
                    stop = "ci"
                    break
            if n >= min_calls and clock() - timed_from >= budget_s:
                stop = "budget"
                break
            if n >= max_calls:
                stop = "max_calls"
                break
        for t, ms in zip(times, one_round(), strict=True):
            t.append(ms)
    if iters is not None and len(times[0]) > iters:  # an agreeing warm-up pair beyond a fixed count
        times = [t[len(t) - iters:] for t in times]
    ci = _interval(times, confidence)
    return AdaptiveTiming(times_ms=tuple(tuple(t) for t in times), warmup_rounds=discarded, settled=settled,
                          stop=stop, ci_low_ms=ci[0] if ci else None, ci_high_ms=ci[1] if ci else None)
