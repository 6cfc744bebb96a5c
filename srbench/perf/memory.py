"""Keep freed heap memory for reuse, so large activations do not page-fault on every forward pass.

PyTorch's CPU allocator is plain ``malloc``. glibc serves blocks above its mmap threshold (at most 32 MiB,
and 128 KiB until the first large free) with fresh ``mmap`` calls and unmaps them on ``free``, so each
forward pass of an SR network at 128x128 touches tens of freshly mapped pages per activation (4 MiB for a
64-channel 128x128 map, 64 MiB for SRResNet x4's 256-channel 256x256 map): the kernel zero-fills every
page on first touch and each conv pays for it. TensorFlow keeps its own caching allocator; Intel's PyTorch
CPU tuning guide recommends jemalloc/tcmalloc for the same reason. This module gets the same effect
without a preload: ``mallopt(M_MMAP_MAX, 0)`` (large blocks come from the heap) and a huge
``M_TRIM_THRESHOLD`` (freed heap is kept for the next allocation).

The cost: the process keeps its peak heap until it exits. That suits a benchmark or inference process;
it is opt-in (:func:`retain_freed_memory`), and the throughput pass records when it is on.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_TOP_PAD = -2
_applied = False


def retain_freed_memory() -> bool:
    """Switch glibc malloc to keep and reuse freed memory (see the module doc). Idempotent.

    Returns True when the setting is in effect, False where it cannot be applied (not Linux/glibc).
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = all(mallopt(opt, val) == 1 for opt, val in
             ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1), (_M_TOP_PAD, 64 << 20)))
    _applied = bool(ok)
    return _applied


def is_retaining() -> bool:
    """Whether :func:`retain_freed_memory` has been applied in this process."""
    return _applied
