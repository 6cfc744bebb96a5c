"""The SSIM map's mean in one fused pass (numba), for :func:`srbench.metrics.fidelity.ssim_map_mean`.

Same arithmetic as filtering a, b, a*a, b*b and a*b separately with the separable 11x11 Gaussian (valid
region) and combining the five maps: each output row's vertical sums are formed for all columns, then its horizontal
sums (both loops run over contiguous columns and vectorise), then the SSIM formula, accumulating the row's sum. No
temporary image is allocated beyond one row per thread, so the five
full-size filtered maps of the plain numpy/scipy version (and their memory traffic) disappear. Strict
IEEE float64 (no fastmath): results differ from the scipy path only by the order of the additions
(about 1e-16 relative), checked in tests/metrics. One thread: on a 2-core machine shared with other
work, numba's parallel loop cost twice the CPU time for no wall-clock gain, and an evaluation computes
metrics beside the model's own threads.

numba is imported when the kernel is first used (importing srbench stays light); the compiled code is
cached on disk (``cache=True``) so later processes skip the compilation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np


@functools.cache
def _kernel() -> Callable[[np.ndarray, np.ndarray, np.ndarray, float, float], float]:
    from numba import njit

    @njit(cache=True)
    def ssim_mean(a: np.ndarray, b: np.ndarray, w: np.ndarray, c1: float, c2: float) -> float:  # pragma: no cover
        h, wd = a.shape
        k = w.shape[0]
        ho, wo = h - k + 1, wd - k + 1
        row_sums = np.zeros(ho)
        for i in range(ho):
            va = np.zeros(wd)
            vb = np.zeros(wd)
            vaa = np.zeros(wd)
            vbb = np.zeros(wd)
            vab = np.zeros(wd)
            for t in range(k):
                wt = w[t]
                ra = a[i + t]
                rb = b[i + t]
                for j in range(wd):
                    x = ra[j]
                    y = rb[j]
                    va[j] += wt * x
                    vb[j] += wt * y
                    vaa[j] += wt * (x * x)
                    vbb[j] += wt * (y * y)
                    vab[j] += wt * (x * y)
            ma = np.zeros(wo)
            mb = np.zeros(wo)
            eaa = np.zeros(wo)
            ebb = np.zeros(wo)
            eab = np.zeros(wo)
            for t in range(k):
                wt = w[t]
                for j in range(wo):
                    ma[j] += wt * va[j + t]
                    mb[j] += wt * vb[j + t]
                    eaa[j] += wt * vaa[j + t]
                    ebb[j] += wt * vbb[j + t]
                    eab[j] += wt * vab[j + t]
            acc = 0.0
            for j in range(wo):
                mab = ma[j] * mb[j]
                ma2 = ma[j] * ma[j]
                mb2 = mb[j] * mb[j]
                num = (2.0 * mab + c1) * (2.0 * (eab[j] - mab) + c2)
                den = (ma2 + mb2 + c1) * ((eaa[j] - ma2) + (ebb[j] - mb2) + c2)
                acc += num / den
            row_sums[i] = acc
        return row_sums.sum() / (ho * wo)

    return ssim_mean


def ssim_mean_fused(a: np.ndarray, b: np.ndarray, window: np.ndarray, c1: float, c2: float) -> float:
    """Mean of the SSIM map of two (H, W) float64 planes (valid filtering with the 1-D ``window``)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    return float(_kernel()(a, b, np.ascontiguousarray(window, dtype=np.float64), float(c1), float(c2)))
