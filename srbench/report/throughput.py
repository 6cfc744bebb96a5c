"""The report's throughput section: a curated table of throughput.csv that fits the page, and every raw
column behind a fold.

The curated table has the columns of the terminal table (:func:`srbench.perf.table.summary_table`) that a
reader compares models by: model, input (a dataset's name for its real LR images, else ``HxW``), dtype,
median and p90 milliseconds, images per second, GFLOP per image *at the timed size*, the fraction of the
measured compute ceiling, the bound (compute or memory, with the fraction of that ceiling) and the parameter
count as timed (integers; when it differs from run.json's count, a footnote says why: the timed network has
its batch norms folded into the convolutions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from srbench.perf.table import unreliable
from srbench.rundir import ModelRecord

GFLOPS_SIDE = 256  # throughput.csv's ``gflops`` is GFLOP per image at a 256x256 LR input (srbench.perf.table)
MAX_VISIBLE_COLUMNS = 10  # the curated table must fit a 1366 px page

_RAW_DECIMALS = {"ms_median": 3, "ms_p90": 3, "images_per_s": 2, "mpix_per_s": 3, "gflops": 3,
                 "achieved_gflops_per_s": 2, "peak_gflops_per_s": 1, "peak_fraction": 3, "peak_mem_mb": 1}

# (key, header, numeric, title): the curated columns, in order
COLUMNS: tuple[tuple[str, str, bool, str], ...] = (
    ("model", "model", False, "the model (and its scale when the run has several)"),
    ("input", "input", False, "a dataset's own LR images (batch 1, one by one) or a fixed LR size HxW"),
    ("dtype", "dtype", False, "the precision the forward pass ran in"),
    ("ms_median", "ms median", True, "median milliseconds per image (forward pass, after warm-up)"),
    ("ms_p90", "ms p90", True, "90th percentile of the milliseconds per image"),
    ("images_per_s", "img/s", True, "images per second"),
    ("gflop", "GFLOP", True, "GFLOP per image at the timed input size (a dataset's median LR size)"),
    ("peak_fraction", "of peak", True, "achieved GFLOP/s over the measured compute ceiling of this device"),
    ("bound", "bound", False, "the roofline's verdict: compute or memory bound, and the fraction of that "
                              "ceiling reached"),
    ("params", "params", True, "parameters of the network as timed"),
)


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _float(v: Any) -> float | None:
    if _missing(v):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def number(v: float | None) -> str:
    """Three significant digits below 1000, whole numbers with thousands separators above."""
    if v is None:
        return "\u2014"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == 0:
        return "0"
    return f"{v:.3g}" if abs(v) >= 0.001 else f"{v:.1e}"


def percent(fraction: float | None) -> str:
    if fraction is None:
        return "\u2014"
    p = 100.0 * fraction
    return f"{p:.0f} %" if p >= 10 else (f"{p:.1f} %" if p >= 0.1 else "< 0.1 %")


def _sort_key(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def _input(rec: Mapping[str, Any]) -> tuple[str, str]:
    """(cell text, tooltip): ``set5`` for a dataset's real LR images, ``128x128`` for a fixed size."""
    name = str(rec.get("input") or "").strip()
    h, w = _float(rec.get("lr_height")), _float(rec.get("lr_width"))
    size = f"{int(h)}x{int(w)}" if h is not None and w is not None else ""
    if not name:
        name = size or "\u2014"
    batch = _float(rec.get("batch"))
    title = "fixed LR size" if name == size else (f"the dataset's own LR images, median size {size}" if size
                                                    else "the dataset's own LR images")
    n = _float(rec.get("n_timed"))
    if n:
        title += f"; {int(n)} timed"
    if batch is not None and batch != 1:
        name += f" \u00b7 batch {int(batch)}"
    return name, title


def _gflop(rec: Mapping[str, Any]) -> float | None:
    """GFLOP per image at the timed size: throughput.csv's 256x256 count scaled by the LR area (a conv net's
    FLOPs are proportional to its pixels)."""
    g, h, w = _float(rec.get("gflops")), _float(rec.get("lr_height")), _float(rec.get("lr_width"))
    if g is None or h is None or w is None:
        return None
    return g * h * w / (GFLOPS_SIDE * GFLOPS_SIDE)


def _bound(rec: Mapping[str, Any]) -> str:
    bound = rec.get("bound")
    if _missing(bound) or not str(bound).strip():
        return "\u2014"
    frac = _float(rec.get("bound_fraction"))
    return str(bound) if frac is None else f"{bound}, {percent(frac)}"


def _cell(text: str, value: float | None = None, numeric: bool = False, title: str | None = None) -> dict[str, Any]:
    return {"text": text, "sort": _sort_key(value) if numeric else None, "num": numeric, "title": title}


def _params_notes(tp: pd.DataFrame, models: Mapping[str, ModelRecord]) -> dict[str, str]:
    """Model -> the footnote explaining why the timed parameter count differs from run.json's."""
    notes: dict[str, str] = {}
    if "params" not in tp.columns:
        return notes
    for model, part in tp.groupby(tp["model"].astype(str), sort=False):
        timed = [int(v) for v in (_float(x) for x in part["params"]) if v is not None]
        record = models.get(str(model))
        if not timed or record is None or record.params is None or timed[0] == record.params:
            continue
        how = ("after batch-norm folding (BN layers merged into the convolutions before timing)"
               if record.adapter_extra.get("bn_folded") else "in the network as timed")
        notes[str(model)] = (f"{model}: params counted {how}: {timed[0]:,}; the Models table counts the trained "
                             f"network: {record.params:,}.")
    return notes


def _raw(tp: pd.DataFrame) -> dict[str, Any]:
    cols = list(tp.columns)
    rows = []
    for rec in tp.itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            if v is pd.NA:
                cells.append({"text": "", "sort": "", "num": True})
            elif isinstance(v, (float, np.floating)):
                fv = float(v)
                if c == "params" and not math.isnan(fv) and fv.is_integer():
                    cells.append({"text": f"{int(fv)}", "sort": repr(fv), "num": True})
                    continue
                text = "" if math.isnan(fv) else f"{fv:.{_RAW_DECIMALS.get(c, 3)}f}"
                cells.append({"text": text, "sort": "" if math.isnan(fv) else repr(fv), "num": True})
            elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                cells.append({"text": str(int(v)), "sort": str(int(v)), "num": True})
            else:
                cells.append({"text": str(v), "sort": None, "num": False})
        rows.append(cells)
    numeric = [all(row[i]["num"] for row in rows) for i in range(len(cols))]
    return {"columns": [{"name": c, "numeric": n} for c, n in zip(cols, numeric, strict=True)], "rows": rows}


def throughput_section(tp: pd.DataFrame | None, models: Mapping[str, ModelRecord],
                       environment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The template's ``throughput`` block (None without throughput.csv): ``columns``/``rows`` of the curated
    table, ``footnotes``, ``raw`` (every column of throughput.csv) and ``hardware``."""
    if tp is None or tp.empty:
        return None
    several_scales = "scale" in tp.columns and tp["scale"].nunique() > 1
    notes = _params_notes(tp, models)
    rows = []
    for rec in tp.to_dict("records"):
        model = str(rec.get("model", ""))
        label = f"{model} \u00d7{int(rec['scale'])}" if several_scales else model
        text, title = _input(rec)
        ms, p90, ips = _float(rec.get("ms_median")), _float(rec.get("ms_p90")), _float(rec.get("images_per_s"))
        gflop, frac = _gflop(rec), _float(rec.get("peak_fraction"))
        params = _float(rec.get("params"))
        peak = _float(rec.get("peak_gflops_per_s"))
        rows.append({"model": model, "cells": [
            _cell(label),
            _cell(text, title=title),
            _cell(str(rec.get("dtype") or "\u2014")),
            _cell(number(ms), ms, True),
            _cell(number(p90), p90, True),
            _cell(number(ips), ips, True),
            _cell(number(gflop), gflop, True, None if gflop is not None else "no FLOP count (not a torch module)"),
            _cell("unreliable", None, True, str(rec.get("note") or "machine busy during the timing"))
            if unreliable(rec) else  # the ceiling moved while timing: no "of peak" figure
            _cell(percent(frac), frac, True, None if peak is None else f"of {peak:,.1f} GFLOP/s measured"),
            _cell(_bound(rec)),
            _cell("\u2014" if params is None else f"{int(params):,}" + (" *" if model in notes else ""),
                  params, True),
        ]})
    names = [str(x) for x in dict.fromkeys(tp["device_name"]) if str(x)] if "device_name" in tp else []
    hw = [", ".join(names) if names else str(environment.get("device_name") or "unknown device")]
    if environment.get("cuda"):
        hw.append(f"CUDA {environment['cuda']}")
    if environment.get("threads"):
        hw.append(f"{environment['threads']} CPU threads")
    if environment.get("torch"):
        hw.append(f"torch {environment['torch']}")
    return {"columns": [{"name": h, "numeric": n, "title": t} for _, h, n, t in COLUMNS], "rows": rows,
            "footnotes": ["* " + n for n in notes.values()], "raw": _raw(tp), "hardware": ", ".join(hw)}
