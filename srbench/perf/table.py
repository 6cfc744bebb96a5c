"""throughput.csv and the terminal table of ``srbench bench``."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench.files import atomic_write

if TYPE_CHECKING:
    import pandas as pd

    from srbench.perf.bench import ThroughputRow


def rows_to_frame(rows: Sequence[ThroughputRow]) -> pd.DataFrame:
    """Rows -> DataFrame with the throughput.csv columns in a fixed order."""
    import pandas as pd

    from srbench.perf.bench import COLUMNS

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
    are formula-escaped as in results.csv (:func:`srbench.rundir.csvfiles.escape_text`)."""
    import pandas as pd

    from srbench.rundir.common import THROUGHPUT_TEXT_COLUMNS
    from srbench.rundir.csvfiles import escape_text

    frame = rows if isinstance(rows, pd.DataFrame) else rows_to_frame(rows)
    frame = frame.copy()
    for c in THROUGHPUT_TEXT_COLUMNS:  # a model named "=cmd()" must not become a spreadsheet formula
        if c in frame.columns:
            frame[c] = [escape_text(v) if isinstance(v, str) else v for v in frame[c]]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "throughput.csv"
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
