"""The metric table: the one place that describes a metric (README "Adding a metric").

Evaluation (which scorer to call), ``srbench check`` (direction, default tolerance), the paper tables and
the HTML report (label, decimals, arrow) and run.json's ``metrics`` block all derive from this table.
Importing it imports no metric code: scorers are lazy ``"module:attr"`` strings.
"""

from __future__ import annotations

from srbench.interfaces import MetricSpec

_FIDELITY = "srbench.metrics.scorers:fidelity"

METRIC_TABLE: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("psnr", True, "dB", "1", "PSNR on MATLAB Y (crop = scale)", default_tolerance=0.05,
                   label="PSNR", decimals=2, report_decimals=3, function=_FIDELITY),
        MetricSpec("ssim", True, "", "1", "SSIM (Wang et al.) on MATLAB Y (crop = scale)", default_tolerance=0.001,
                   label="SSIM", decimals=4, function=_FIDELITY),
        MetricSpec("lpips", False, "", "0.1", "LPIPS v0.1 (AlexNet), RGB in [-1, 1]", default_tolerance=0.005,
                   label="LPIPS", decimals=4, function="srbench.metrics.scorers:lpips", stateful=True),
        MetricSpec("niqe", False, "", "1", "NIQE (Mittal et al. 2013) as MATLAB niqe: pristine model, MATLAB Y "
                   "rounded, crop = scale, 96x96 blocks", default_tolerance=0.01, label="NIQE", decimals=4,
                   reference_free=True, function="srbench.metrics.scorers:niqe"),
        # Read from published tables only (the SRGAN paper's mean opinion scores); srbench does not compute it.
        MetricSpec("mos", True, "", "paper", "mean opinion score (published)", label="MOS", decimals=2),
    )
}

# What `srbench run` computes when --metrics is not given (unchanged since before NIQE: NIQE is opt-in).
DEFAULT_METRICS: tuple[str, ...] = ("psnr", "ssim", "lpips")


def computed_metrics() -> tuple[str, ...]:
    """Names srbench can compute, in table order."""
    return tuple(name for name, spec in METRIC_TABLE.items() if spec.computed)


def spec_of(metric: str) -> MetricSpec | None:
    """The table entry of ``metric`` (case-insensitive), or None for a metric srbench does not know."""
    return METRIC_TABLE.get(metric.lower())


def table_decimals() -> dict[str, int]:
    return {name: spec.decimals for name, spec in METRIC_TABLE.items()}


def report_decimals() -> dict[str, int]:
    return {name: spec.report_decimals if spec.report_decimals is not None else spec.decimals
            for name, spec in METRIC_TABLE.items()}


def labels() -> dict[str, str]:
    return {name: spec.display for name, spec in METRIC_TABLE.items()}


def fallback_records() -> dict[str, dict[str, object]]:
    """run.json-style metadata of every known metric, for runs whose run.json lacks a metric's entry."""
    return {name: {k: v for k, v in spec.record().items() if k != "description"} for name, spec in METRIC_TABLE.items()}


def default_tolerances() -> dict[str, float]:
    return {name: spec.default_tolerance for name, spec in METRIC_TABLE.items() if spec.computed}
