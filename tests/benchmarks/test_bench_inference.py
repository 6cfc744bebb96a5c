"""SRResNet x4 inference (128x128 LR -> 512x512): srbench's paths and the Keras peer, in the same run.

Run with ``pytest tests/benchmarks/test_bench_inference.py --benchmark-enable``. Group "srresnet x4
128x128" holds: the roofline (one 2048^3 fp32 matmul, 17.18 GFLOP, the same work as ``machine_peak.py``;
SRResNet x4 at 128x128 is 72.69 GFLOP = 4.23 such matmuls), srbench eager (channels_last, BN folded: the adapter's
module), srbench fused fp32 (:mod:`srbench.models.archs.fused`), srbench fused bf16 (AMX / tensor cores) and
the Keras peer's generator (``$SRBENCH_SHARED_BENCH/keras_srgan_peer.py``'s own ``srresnet()``, built from
its source without running its training part, timed as it times itself: ``tf.function`` + ``.numpy()``).
Targets (issue 4): fused fp32 mean <= 1/1.7 of the Keras mean, and >= 70% of the matmul peak, i.e.
fused fp32 mean <= 4.23 / 0.7 = 6.04 x the matmul mean. ``bench_peers.py`` prints these ratios.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.benchmarks.helpers import timed

REPO = Path(__file__).resolve().parents[2]
SHARED_BENCH = Path(os.environ.get("SRBENCH_SHARED_BENCH") or ".")  # "." holds no peer scripts: skipped
GROUP = "srresnet x4 128x128"


def keras_peer_generator(path: Path = SHARED_BENCH / "keras_srgan_peer.py") -> tuple[Any, Any]:
    """(tf module, the peer's SRResNet x4 Keras model), from the peer script's own definitions.

    Only the imports and the ``res_block``/``up``/``srresnet`` functions of the script are executed (the
    rest trains a GAN for minutes). Raises FileNotFoundError / ImportError when unavailable.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    keep = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
            or (isinstance(n, ast.FunctionDef) and n.name in ("res_block", "up", "srresnet"))]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ns: dict[str, Any] = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), ns)  # noqa: S102 (our shared script)
    return ns["tf"], ns["srresnet"]()


def srresnet_module() -> torch.nn.Module:
    """The srresnet x4 adapter's module (demo weights, or random ones: the cost is the same)."""
    from srbench.interfaces import ModelError
    from srbench.registry import get_model

    try:
        return get_model("srresnet", 4).module
    except ModelError:
        from srbench.models.archs.srresnet import SRResNet
        from srbench.models.srresnet import SRResNetAdapter

        return SRResNetAdapter("srresnet", 4, SRResNet(4), weights="random", weights_sha256="", demo=True,
                               description="random weights").module


@pytest.fixture(scope="module")
def module() -> torch.nn.Module:
    return srresnet_module()


@pytest.fixture(scope="module")
def lr() -> torch.Tensor:
    return torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))


def _run(benchmark: Callable, fn: Callable[[], Any]) -> Any:
    fn()  # warm-up outside the timing (oneDNN weight reordering, first-call allocations)
    out, _ = timed(benchmark, fn, rounds=5, iterations=1, warmup_rounds=1)  # asserts a finite time > 0
    return out


@pytest.mark.benchmark(group=GROUP)
def test_bench_matmul_peak_2048(benchmark: Callable) -> None:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    out = _run(benchmark, lambda: a @ b)
    assert out.shape == (2048, 2048)


@pytest.mark.benchmark(group=GROUP)
def test_bench_srbench_eager_channels_last(benchmark: Callable, module: torch.nn.Module, lr: torch.Tensor) -> None:
    x = lr.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        out = _run(benchmark, lambda: module(x))
    assert out.shape == (1, 3, 512, 512)


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_bench_srbench_fused(benchmark: Callable, module: torch.nn.Module, lr: torch.Tensor, dtype: str) -> None:
    from srbench.models.archs.fused import fuse
    from srbench.perf.memory import retain_freed_memory

    retain_freed_memory()  # as the throughput pass does for the fused CPU path
    plan = fuse(module, dtype=dtype)
    out = _run(benchmark, lambda: plan(lr))
    with torch.inference_mode():
        ref = module(lr)
    tol = 1e-4 if dtype == "fp32" else 0.03  # bf16 keeps 8 mantissa bits
    assert (out - ref).abs().max().item() < tol


@pytest.mark.slow
@pytest.mark.benchmark(group=GROUP)
def test_bench_keras_peer(benchmark: Callable) -> None:
    pytest.importorskip("tensorflow")
    if not (SHARED_BENCH / "keras_srgan_peer.py").is_file():
        pytest.skip(f"Keras peer script not found in {SHARED_BENCH}")
    tf, gen = keras_peer_generator()
    x = tf.random.uniform((1, 128, 128, 3), 0, 255)
    infer = tf.function(lambda t: gen(t, training=False))
    out = _run(benchmark, lambda: infer(x).numpy())
    assert out.shape == (1, 512, 512, 3)
