"""file: adapters vs calling their network directly, per architecture (x4, 64x64 LR), in the same run.

Run with ``pytest tests/benchmarks/test_bench_file_models.py --benchmark-enable``: group "file: ARCH" holds
``direct`` (``adapter.module(x)``) and ``adapter`` (``adapter.upscale(x)``). Target: overhead < 2 %.
``bench_file_models.py`` in this folder prints the overhead from paired, interleaved calls (steadier on a
shared machine) and the adapter's fixed cost per call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from srbench.registry import get_model
from tests.benchmarks.helpers import timed
from tests.models import tiny_nets

pytestmark = pytest.mark.slow  # ~20 s even with --benchmark-disable (10 timed models); `make bench` runs it


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("bench-ckpts")
    return {name: get_model(f"file:{tiny_nets.save(tiny_nets.make(name), Path(d) / f'{name}.safetensors')}", 4)
            for name in tiny_nets.ARCHS}


def _run(benchmark: Callable, fn: Callable[[], Any]) -> Any:
    with torch.inference_mode():
        fn()  # warm-up outside the timing
        out, _ = timed(benchmark, fn, rounds=20, iterations=1, warmup_rounds=2)  # asserts a finite time > 0
        return out


@pytest.mark.parametrize("how", ["direct", "adapter"])
@pytest.mark.parametrize("arch", sorted(tiny_nets.ARCHS))
def test_bench_file_adapter(benchmark: Any, adapters: dict[str, Any], arch: str, how: str) -> None:
    benchmark.group = f"file: {arch}"
    a = adapters[arch]
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    if how == "adapter":
        fn = lambda: a.upscale(x)  # noqa: E731
    elif arch == "rcan":  # spandrel's RCAN scales its input in place; the adapter copies it first
        fn = lambda: a.module(x.clone())  # noqa: E731
    else:
        fn = lambda: a.module(x)  # noqa: E731
    out = _run(benchmark, fn)
    assert tuple(out.shape) == (1, 3, 256, 256)
