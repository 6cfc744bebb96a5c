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

    The adaptive timing (:func:`srbench.perf.timing.time_adaptive`): ``n_calls`` timed forward calls (all
    images of a dataset row together; ``n_timed`` is the number of values the median is over: calls, or
    images), ``n_warmup`` warm-up rounds discarded, ``ci_low_ms``/``ci_high_ms`` the 95 % distribution-free
    interval of ``ms_median`` (empty below 6 calls), ``timing_stop`` why timing stopped ("ci": the interval
    reached +-2 %; "budget"; "max_calls"; "fixed": ``--iters``). The ceiling check
    (:func:`srbench.perf.peak.check_ceilings`): the compute ceiling in short bursts just before and after
    the model's timing, the 1-minute load average after it, and ``peak_reliable`` False when the machine
    was busy (the reason in ``note``; ``peak_fraction`` is then not to be trusted); empty when not checked.
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
    n_calls: int = 0
    n_warmup: int = 0
    ci_low_ms: float | None = None
    ci_high_ms: float | None = None
    timing_stop: str = ""
    ceiling_before_gflops_per_s: float | None = None
    ceiling_after_gflops_per_s: float | None = None
    load_avg_1m: float | None = None
    peak_reliable: bool | None = None


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


def unreliable(r: Mapping[str, Any]) -> bool:
    """Whether the row's ceiling check found the machine busy (``peak_reliable`` False; "False" when read
    back from throughput.csv, whose booleans stay text)."""
    flag = r.get("peak_reliable")
    return flag is False or (isinstance(flag, str) and flag.strip().lower() == "false")


def _bound(r: Mapping[str, Any], busy: str = "") -> str:
    """"fma 0.62" / "mem 0.40": the row's bound and the fraction of its ceiling (``busy`` instead of it)."""
    bound = r.get("bound")
    if _missing(bound) or not bound:
        return "-"
    tag = "mem" if bound == "memory" else "fma"
    frac = r.get("bound_fraction")
    if busy:
        return f"{tag} busy"
    return f"{tag} {'-' if _missing(frac) else f'{frac:.2f}'}"


def _spread(r: Mapping[str, Any]) -> str:
    """"+-1.3%": the larger side of the median's 95 % interval, relative to the median."""
    lo, hi, med = r.get("ci_low_ms"), r.get("ci_high_ms"), r.get("ms_median")
    if any(_missing(v) for v in (lo, hi, med)) or not med:
        return "-"
    return f"+-{100 * max(med - lo, hi - med) / med:.1f}%"


def _busy_note(note: Any) -> str:
    """The ceiling check's sentence out of a row's note (the part from "machine busy")."""
    text = note if isinstance(note, str) else ""
    return next((part for part in text.split("; ") if part.startswith("machine busy")), text)


def summary_table(frame: pd.DataFrame, roofline: Mapping[str, Any] | None = None) -> str:
    """A fixed-width text table of the headline columns, for the terminal (``srbench bench``).

    ``roofline``: the run's roofline record (``frame.attrs["roofline"]`` by default) for the footer, which
    names the ceilings and how they were measured. A row whose ceiling check found the machine busy shows
    "busy [k]" instead of its fractions, and footnote k says why ("machine busy: ceiling 49 vs 230 GFLOP/s
    earlier").
    """
    heads = ["model", "x", "input", "batch", "dtype", "ms med", "95% CI", "calls", "ms p90", "img/s", "MP/s",
             "GFLOP@256", "GFLOP/s", "of peak", "MiB", "bound"]
    records = frame.to_dict("records")
    notes: dict[str, int] = {}
    body = []
    for r in records:
        busy = ""
        if unreliable(r):
            busy = f"busy [{notes.setdefault(_busy_note(r.get('note')), len(notes) + 1)}]"
        body.append([_fmt(r.get(c)) for c in ("model", "scale", "input", "batch", "dtype", "ms_median")]
                    + [_spread(r), _fmt(r.get("n_calls"))]
                    + [_fmt(r.get(c)) for c in ("ms_p90", "images_per_s", "mpix_per_s", "gflops",
                                                "achieved_gflops_per_s")]
                    + [busy or _fmt(r.get("peak_fraction")), _fmt(r.get("peak_mem_mb")), _bound(r, busy)])
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in body]
    lines += [f"[{k}] {text}" for text, k in notes.items()]
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
        lines.append(f"compute ceiling: {roof['peak_gflops_per_s']:.1f} GFLOP/s {roof['dtype']} "
                     f"({roof['peak_method']})")
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
