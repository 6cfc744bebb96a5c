"""The seed SRGAN generator x4 (16 blocks) on a 128x128 LR image: the Keras adapter (``keras-srgan``,
compiled tf.function, NHWC) vs the PyTorch adapter (``seed-srgan``, BN folded, channels_last) with the same
converted weights, in the same run, through the adapters' ``upscale`` (what srbench's timed pass times).

Run with ``pytest tests/benchmarks/test_bench_keras.py --benchmark-enable``. Group "seed srgan x4 128x128".
Also checks (outside the timing) that both adapters give the same image.

Measured (2-core Xeon, shared with other jobs, load average ~6; 5 rounds, ms): Keras adapter median 1018 /
mean 992, PyTorch adapter median 2300 / mean 2313 (2.3x slower). The PyTorch side runs eager (BN folded,
channels_last): srbench's fused SRResNet plan does not apply, because it fuses one PReLU slope per layer
into oneDNN convolutions and the seed generator has one per channel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.benchmarks.helpers import timed

GROUP = "seed srgan x4 128x128"


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("tensorflow")
    from srbench.models import seed_srgan
    from srbench.models.keras import seed as keras_seed
    from srbench.models.keras.command import convert_file
    from srbench.models.keras.convert import write_keras_h5

    root: Path = tmp_path_factory.mktemp("bench_keras")
    gen = keras_seed.build_generator(4, seed=7)
    h5 = write_keras_h5(root / "gen.h5", keras_seed.get_layer_weights(gen))
    st = root / "gen.safetensors"
    convert_file(h5, st)
    return {"keras": keras_seed.build(4, weights=str(h5)), "torch": seed_srgan.build(4, weights=str(st))}


@pytest.fixture(scope="module")
def lr() -> torch.Tensor:
    return torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))


def _run(benchmark: Callable, fn: Callable[[], Any]) -> Any:
    fn()  # warm-up outside the timing (tracing, oneDNN weight reordering)
    out, _ = timed(benchmark, fn, rounds=5, iterations=1, warmup_rounds=1)  # asserts a finite time > 0
    return out


def test_same_output(adapters: dict[str, Any], lr: torch.Tensor) -> None:
    a, b = adapters["keras"].upscale(lr), adapters["torch"].upscale(lr)
    # the same network (the precise parity tests are in tests/models/test_keras_seed.py)
    assert float(a.std()) > 0.01 and float((a - b).abs().max()) * 255 < 1e-2


@pytest.mark.benchmark(group=GROUP)
def test_bench_keras_adapter(benchmark: Callable, adapters: dict[str, Any], lr: torch.Tensor) -> None:
    out = _run(benchmark, lambda: adapters["keras"].upscale(lr))
    assert out.shape == (1, 3, 512, 512)


@pytest.mark.benchmark(group=GROUP)
def test_bench_pytorch_adapter(benchmark: Callable, adapters: dict[str, Any], lr: torch.Tensor) -> None:
    out = _run(benchmark, lambda: adapters["torch"].upscale(lr))
    assert out.shape == (1, 3, 512, 512)
