"""Number formatting and labels shared by the HTML report and the paper tables."""

from __future__ import annotations

import math

from srbench.metrics.table import labels, report_decimals, table_decimals

# Decimals as the field prints them (SRGAN paper: PSNR 2, SSIM 4; LPIPS tables use 4), from the metric table.
TABLE_DECIMALS = table_decimals()
# The report shows one more PSNR digit: differences of a few hundredths are what a regression looks like.
REPORT_DECIMALS = report_decimals()

METRIC_LABELS = labels()

DATASET_LABELS = {
    "set5": "Set5",
    "set14": "Set14",
    "b100": "BSD100",
    "bsd100": "BSD100",
    "urban100": "Urban100",
    "manga109": "Manga109",
    "div2k": "DIV2K",
    "bsd200": "BSD200",
    "t91": "T91",
}


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric.lower(), metric)


def dataset_label(dataset: str) -> str:
    return DATASET_LABELS.get(dataset.lower(), dataset)


def canonical_dataset(dataset: str) -> str:
    """Dataset id used to match published numbers: case-insensitive, BSD100 == B100."""
    d = dataset.strip().lower()
    return "b100" if d in ("bsd100", "b100") else d


def format_value(value: float, metric: str, decimals: dict[str, int] = TABLE_DECIMALS, inf: str = "inf") -> str:
    """Fixed decimals per metric (4 for unknown metrics); ``inf`` for PSNR of identical images; '' for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    v = float(value)
    if math.isinf(v):
        return inf if v > 0 else "-" + inf
    return f"{v:.{decimals.get(metric.lower(), 4)}f}"


def best_flags(values: list[float | None], metric: str, higher_is_better: bool | None,
               decimals: dict[str, int] = TABLE_DECIMALS) -> list[bool]:
    """Which of ``values`` are best (ties included), compared *as printed* so that two cells that read
    the same are both bold. No direction or fewer than two numbers: nothing is bold."""
    if higher_is_better is None:
        return [False] * len(values)
    keyed: list[float | None] = []
    for v in values:
        if v is None or math.isnan(float(v)):
            keyed.append(None)
        elif math.isinf(float(v)):
            keyed.append(float(v))
        else:
            keyed.append(round(float(v), decimals.get(metric.lower(), 4)))
    present = [k for k in keyed if k is not None]
    if len(present) < 2:
        return [False] * len(values)
    best = max(present) if higher_is_better else min(present)
    return [k is not None and k == best for k in keyed]


def arrow(higher_is_better: bool | None) -> str:
    return "" if higher_is_better is None else ("\u2191" if higher_is_better else "\u2193")
