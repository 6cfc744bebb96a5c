"""Fakes for timing tests: a clock that only moves when told, and a 'model' that advances it."""

from __future__ import annotations

import torch
from torch import nn


class FakeClock:
    """A monotonic clock (seconds) that advances only through :meth:`advance`: timings are exact."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def advance(self, ms: float) -> None:
        self.t += ms / 1e3


class ClockSR(nn.Module):
    """A 'model' whose runtime is known: each call advances ``clock`` by ``ms`` (``first_ms`` on the first).

    Holds one 3x3 conv 3 -> 3 so that it has parameters and a known FLOP count (2*3*3*9 per pixel).
    """

    def __init__(self, scale: int, ms: float, clock: FakeClock, first_ms: float = 0.0) -> None:
        super().__init__()
        self.scale, self.ms, self.first_ms, self.calls, self.clock = scale, ms, first_ms, 0, clock
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.clock.advance(self.first_ms if self.calls == 1 and self.first_ms else self.ms)
        y = self.conv(x)
        return y.repeat_interleave(self.scale, 2).repeat_interleave(self.scale, 3)
