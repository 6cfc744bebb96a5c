"""throughput.csv and the terminal table of ``srbench bench``."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench.files import atomic_write, escape_text

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_COLUMNS = (
    "model", "scale", "lr_height", "lr_width", "batch", "dtype", "device", "ms_median", "ms_p90",
    "images_per_s", "mpix_per_s", "params", "gflops", "achieved_gflops_per_s", "peak_gflops_per_s",
    "peak_fraction",
)


@dataclass(frozen=True)
class ThroughputRow:
    """One line of throughput.csv. Times are per image (a batch's time divided by ``batch``).

    ``gflops``: GFLOP per image at a 256x256 LR input (None when the model is not a torch module).
    ``achieved_gflops_per_s``: FLOPs at the timed size / median time. ``peak_fraction`` = achieved / the
    measured compute ceiling (never above 1: see :mod:`srbench.perf.bench`). ``mpix_per_s``: output (SR) megapixels
    per second. ``input``: "HxW" or the dataset name (then ``lr_height``/``lr_width`` are the median LR
    size over its images). ``achieved_gb_per_s``: bytes of the float32 input + output per second (a lower
    bound of the memory traffic); ``bound``: "compute" or "memory" (see the module doc), ``bound_fraction``
    the achieved rate over that bound's ceiling.
    """

    model: str
    scale: int
    lr_height: int | None
    lr_width: int | None
    batch: int
    dtype: str
    device: str
    ms_median: float
    ms_p90: float
    images_per_s: float
    mpix_per_s: float
    params: int | None
    gflops: float | None
    achieved_gflops_per_s: float | None
    peak_gflops_per_s: float | None
    peak_fraction: float | None
    peak_mem_mb: float | None = None
    h2d_ms: float | None = None
    d2h_ms: float | None = None
    threads: int | None = None
    channels_last: bool = False
    compile: bool = False
    fused: bool = False
    cudnn_benchmark: bool | None = None
    torch: str = ""
    cuda: str | None = None
    device_name: str = ""
    input: str = ""
    n_timed: int = 0
    note: str = ""
    achieved_gb_per_s: float | None = None
    bandwidth_gb_per_s: float | None = None
    bound: str = ""
    bound_fraction: float | None = None


COLUMNS = tuple(f.name for f in fields(ThroughputRow))

# throughput.csv's text columns (formula-escaped when written, unescaped when read); the rest are numbers
THROUGHPUT_TEXT_COLUMNS = ("model", "dtype", "device", "device_name", "input", "note", "torch", "cuda")


def rows_to_frame(rows: Sequence[ThroughputRow]) -> pd.DataFrame:
    """Rows -> DataFrame with the throughput.csv columns in a fixed order."""
    import pandas as pd  # deferred: pandas is slow to import

    return pd.DataFrame([asdict(r) for r in rows], columns=list(COLUMNS))


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _fmt(v: Any) -> str:
    if _missing(v):
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _bound(r: Mapping[str, Any]) -> str:
    """"fma 0.62" / "mem 0.40": the row's bound and the fraction of its ceiling."""
    bound = r.get("bound")
    if _missing(bound) or not bound:
        return "-"
    tag = "mem" if bound == "memory" else "fma"
    frac = r.get("bound_fraction")
    return f"{tag} {'-' if _missing(frac) else f'{frac:.2f}'}"


def summary_table(frame: pd.DataFrame, roofline: Mapping[str, Any] | None = None) -> str:
    """A fixed-width text table of the headline columns, for the terminal (``srbench bench``).

    ``roofline``: the run's roofline record (``frame.attrs["roofline"]`` by default) for the footer, which
    names the ceilings and how they were measured.
    """
    cols = ["model", "scale", "input", "batch", "dtype", "ms_median", "ms_p90", "images_per_s", "mpix_per_s",
            "gflops", "achieved_gflops_per_s", "peak_fraction", "peak_mem_mb"]
    heads = ["model", "x", "input", "batch", "dtype", "ms med", "ms p90", "img/s", "MP/s", "GFLOP@256",
             "GFLOP/s", "of peak", "MiB", "bound"]
    records = frame.to_dict("records")
    body = [[_fmt(r.get(c)) for c in cols] + [_bound(r)] for r in records]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in body]
    roof = roofline if roofline is not None else frame.attrs.get("roofline")
    if len(frame):
        first = frame.iloc[0]
        peak = first["peak_gflops_per_s"]
        peak_s = "-" if _missing(peak) else f"{peak:.1f}"
        cuda = first["cuda"] if isinstance(first["cuda"], str) else "-"
        lines.append(f"device: {first['device_name']} ({first['device']}), threads {first['threads']}, "
                     f"torch {first['torch']}, cuda {cuda}; measured {first['dtype']} peak {peak_s} GFLOP/s")
    if roof:
        theo = roof.get("theoretical_gflops_per_s")
        lines.append(f"compute ceiling: {roof['peak_gflops_per_s']:.1f} GFLOP/s {roof['dtype']} ({roof['peak_method']})")
        if not _missing(theo):
            lines.append(f"  theoretical {theo:.1f} GFLOP/s ({roof['theoretical_method']}; turbo can exceed it)")
        bw = roof.get("bandwidth_gb_per_s")
        if not _missing(bw):
            ridge = roof.get("ridge_flops_per_byte")
            lines.append(f"memory ceiling: {bw:.1f} GB/s ({roof['bandwidth_method']}); ridge "
                         f"{_fmt(ridge)} FLOP/byte: rows below it (or without FLOPs, e.g. bicubic) are 'mem' bound")
    return "\n".join(lines)


def write_throughput_csv(rows: Sequence[ThroughputRow] | pd.DataFrame, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``out_dir/throughput.csv`` atomically (temporary file + rename); returns its path. Text cells
    are formula-escaped as in results.csv (:func:`srbench.files.escape_text`)."""
    import pandas as pd  # deferred: pandas is slow to import

    frame = rows if isinstance(rows, pd.DataFrame) else rows_to_frame(rows)
    frame = frame.copy()
    for c in THROUGHPUT_TEXT_COLUMNS:  # a model named "=cmd()" must not become a spreadsheet formula
        if c in frame.columns:
            frame[c] = [escape_text(v) if isinstance(v, str) else v for v in frame[c]]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "throughput.csv"
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
