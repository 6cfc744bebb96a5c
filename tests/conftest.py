"""Shared fixtures. Tests that need the shared benchmark images ($SRBENCH_SHARED_DATASETS) skip cleanly without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import shared_datasets_dir

try:  # triton imported after TensorFlow segfaults (TF 2.21 + torch 2.14's triton): load it first, so test
    import triton  # noqa: F401  # order cannot matter (tests/benchmarks import TensorFlow directly)
except Exception:
    pass


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The benchmark-layout folder with Set5/Set14/B100 (env SRBENCH_SHARED_DATASETS)."""
    d = shared_datasets_dir()
    if d is None:
        pytest.skip("benchmark images not found (set SRBENCH_SHARED_DATASETS to run this test)")
    return d
