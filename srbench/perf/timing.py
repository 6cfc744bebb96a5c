"""Timing a callable: docs/protocol.md, "Throughput measurement" (forward pass only, after warm-up, input on the device).

On a GPU each call is bracketed by CUDA events and the device synchronised before reading them (host
timers would only measure kernel launches); on a CPU a host clock (``time.perf_counter`` unless another
``clock`` is injected, which is how the tests drive this code without real sleeps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
