"""Metrics: pure functions plus their typed metadata (``SPECS``)."""

from __future__ import annotations

from srbench.interfaces import MetricSpec
from srbench.metrics.fidelity import psnr, ssim

SPECS: dict[str, MetricSpec] = {
    "psnr": MetricSpec("psnr", True, "dB", "1", "PSNR on MATLAB Y (crop = scale)", default_tolerance=0.05),
    "ssim": MetricSpec("ssim", True, "", "1", "SSIM (Wang et al.) on MATLAB Y (crop = scale)", default_tolerance=0.001),
    "lpips": MetricSpec("lpips", False, "", "0.1", "LPIPS v0.1 (AlexNet), RGB in [-1, 1]", default_tolerance=0.005),
}

__all__ = ["SPECS", "psnr", "ssim"]
