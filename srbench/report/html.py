"""``report.html``: one self-contained page per run (CSS/JS inline, images as data: URIs, opens offline).

The page is rendered by jinja2 templates that live in this package (``templates/report.html.j2``) with
autoescaping ON: every model, dataset, image and file name is text, never markup. A Content-Security-Policy
allows no network access and only the report's own script (by hash), so even a template mistake could not
run an injected script.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from srbench.files import atomic_write_text
from srbench.metrics.significance import paired_bootstrap, significant
from srbench.report import crops as _crops
from srbench.report import plots
from srbench.report.format import (
    REPORT_DECIMALS,
    arrow,
    best_flags,
    dataset_label,
    format_value,
    metric_label,
)
from srbench.report.provenance import provenance, warning_groups
from srbench.report.throughput import throughput_section
from srbench.rundir import RunData, load_run_dir

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class ReportOptions:
    """Knobs of ``write_report`` (the CLI's ``srbench report`` flags)."""
    crop_box: str | None = None  # "x,y,w,h" in HR pixels; overrides run.json config.crop_box
    max_comparisons: int = 12  # visual comparisons shown, largest spread between models first (the run chose
    # which images were saved)
    reference: str | None = None  # the per-image pivot's reference model; default bicubic, else the first model
    thumbnail_side: int = 256  # px, longer side of the HR overview with the box drawn
    crop_display: int = 256  # px, target longer side of a zoomed crop (integer nearest-neighbour zoom)


def write_report(run_dir: Path, *, out: Path | None = None, crop_box: str | None = None,
                 reference: str | None = None) -> Path:
    """Write ``run_dir/report.html`` (or ``out``) for the run in ``run_dir`` and return its path.

    ``crop_box`` ("x,y,w,h", HR pixels) picks the region of the visual comparisons; default: the run's
    ``config.crop_box``, else per image the window where the saved models' outputs differ most (HR gradient
    energy when only one model's output was saved). ``reference``: the model the per-image pivot subtracts
    (default bicubic when the run has it, else the run's first model).
    """
    run_dir = Path(run_dir)
    run = load_run_dir(run_dir)
    html = render_report(run, ReportOptions(crop_box=crop_box, reference=reference))
    target = Path(out) if out is not None else run_dir / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(target, html)


def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(run: RunData, options: ReportOptions = ReportOptions()) -> str:
    """The HTML text of the report of ``run``."""
    env = _env()
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    style = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    notes: list[str] = []
    ctx = {
        "run": _run_header(run),
        "warnings": warning_groups(run.record.warnings),
        "errors": _errors(run),
        "summaries": _summaries(run),
        "pivots": _pivots(run, options.reference, notes),
        "per_image": _per_image(run),
        "throughput": throughput_section(run.throughput, run.record.models, run.record.environment),
        "plots": _plots(run, notes),
        "comparisons": _comparisons(run, options, notes),
        "notes": notes,
        "provenance": provenance(run),
        "demo_models": sorted(name for name, info in run.record.models.items() if info.demo),
        "style": style,
        "script": script,
        "script_hash": script_hash,
    }
    return env.get_template("report.html.j2").render(**ctx)


# ------------------------------------------------------------------------------------------ sections


def _text(value: Any) -> str:
    if value is None:
        return "\u2014"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=False, ensure_ascii=False)
    return str(value)


def _run_header(run: RunData) -> dict[str, str]:
    r = run.record
    return {
        "id": run.run_id,
        "created": _text(r.created),
        "status": r.status,
        "command": _text(r.command),
        "version": _text(r.srbench_version),
        "git_sha": _text(r.git_sha),
        "device": _text(r.environment.get("device_name")),
    }


def _errors(run: RunData) -> list[dict[str, str]]:
    return [{"where": e.where, "error": e.error} for e in run.record.errors]


def _metric_header(run: RunData, metric: str) -> dict[str, Any]:
    hib = run.higher_is_better(metric)
    return {
        "name": metric,
        "label": metric_label(metric),
        "arrow": arrow(hib),
        "unit": run.record.metric(metric).unit or "",
        "title": "higher is better" if hib else ("lower is better" if hib is False else "direction unknown"),
    }


def _sort_key(value: float) -> str:
    if value is None or math.isnan(value):
        return ""
    return "Infinity" if value == math.inf else ("-Infinity" if value == -math.inf else repr(float(value)))


def _summaries(run: RunData) -> list[dict[str, Any]]:
    s = run.summary
    if s.empty:
        return []
    models, metrics = run.models(), run.metrics()
    groups = []
    for (dataset, scale), part in s.groupby(["dataset", "scale"], sort=False):
        rows_by_model = {m: {} for m in models if m in set(part["model"])}
        n_images: dict[str, int] = {}
        for rec in part.itertuples(index=False):
            rows_by_model[rec.model][rec.metric] = float(rec.value)
            n_images[rec.model] = max(n_images.get(rec.model, 0), int(rec.n_images))
        ms = [m for m in metrics if m in set(part["metric"])]
        best = {k: best_flags([rows_by_model[m].get(k) for m in rows_by_model], k, run.higher_is_better(k),
                              REPORT_DECIMALS) for k in ms}
        rows = []
        for i, model in enumerate(rows_by_model):
            cells = []
            for k in ms:
                v = rows_by_model[model].get(k)
                cells.append({"text": format_value(v, k, REPORT_DECIMALS) if v is not None else "",
                              "best": best[k][i]})
            rows.append({"model": model, "cells": cells, "n_images": n_images.get(model, 0)})
        groups.append({"dataset": dataset, "scale": int(scale),
                       "label": f"{dataset_label(dataset)} \u00d7{int(scale)}",
                       "metrics": [_metric_header(run, k) for k in ms], "rows": rows})
    return groups


def _per_image(run: RunData) -> dict[str, Any]:
    r = run.results
    if r.empty:
        return {"metrics": [], "rows": []}
    metrics = [m for m in run.metrics() if m in set(r["metric"])] or sorted(set(r["metric"]))
    order = {m: i for i, m in enumerate(run.models())}
    ds_order = {d: i for i, d in enumerate(dict.fromkeys([*run.record.config_list("datasets"), *r["dataset"]]))}
    wide = r.pivot_table(index=["dataset", "scale", "image", "model"], columns="metric", values="value",
                         aggfunc="last", sort=False)
    rows = []
    for (dataset, scale, image, model), vals in wide.iterrows():
        cells = []
        for k in metrics:
            v = vals.get(k, math.nan)
            v = math.nan if v is None or pd.isna(v) else float(v)
            cells.append({"text": format_value(v, k, REPORT_DECIMALS), "sort": _sort_key(v)})
        rows.append({"dataset": dataset, "scale": int(scale), "image": image, "model": model, "cells": cells,
                     "_key": (ds_order[dataset], int(scale), image, order.get(model, len(order)))})
    rows.sort(key=lambda x: x.pop("_key"))
    return {"metrics": [_metric_header(run, k) for k in metrics], "rows": rows}


def _reference(models: list[str], wanted: str | None) -> str:
    if wanted in models:
        return wanted
    return "bicubic" if "bicubic" in models else models[0]


def _signed(value: float, metric: str) -> str:
    text = format_value(value, metric, REPORT_DECIMALS)
    return text if text.startswith("-") or not text else "+" + text


def _interval(differences: list[float], metric: str) -> dict[str, str]:
    """The 95 % paired bootstrap interval of a model's mean per-image difference to the reference (the same
    resampling as summary.csv and ``srbench table --ci``), and "not significant" where it contains 0."""
    _, lo, hi = paired_bootstrap(np.asarray(differences), np.zeros(len(differences)))
    if math.isnan(lo) or math.isnan(hi):
        return {"text": "", "cls": ""}
    ns = significant(lo, hi) is False
    return {"text": f"[{_signed(lo, metric)}, {_signed(hi, metric)}]" + (" not significant" if ns else ""),
            "cls": "ns" if ns else ""}


def _pivots(run: RunData, wanted: str | None, notes: list[str]) -> list[dict[str, Any]]:
    """Per (dataset, scale): one table per metric with images as rows and models as columns, each model's
    difference to the reference model per image; rows worst first (the image on which some model loses
    most to the reference, in the metric's direction)."""
    r = run.results
    if r.empty:
        return []
    if wanted is not None and wanted not in set(r["model"]):
        notes.append(f"Per-image pivot: reference model {wanted!r} is not in this run; using the default.")
    metrics = [m for m in run.metrics() if m in set(r["metric"])]
    order = run.models()
    groups = []
    for gi, ((dataset, scale), part) in enumerate(r.groupby(["dataset", "scale"], sort=False)):
        models = [m for m in order if m in set(part["model"])]
        ref = _reference(models, wanted)
        others = [m for m in models if m != ref]
        tables = []
        for mi, metric in enumerate(m for m in metrics if m in set(part["metric"])):
            hib = run.higher_is_better(metric)
            sign = -1.0 if hib is False else 1.0  # direction-adjusted: positive = better than the reference
            wide = part[part["metric"] == metric].pivot_table(index="image", columns="model", values="value",
                                                              aggfunc="last", sort=False)
            rows = []
            for image, vals in wide.iterrows():
                base = vals.get(ref, math.nan)
                base = math.nan if pd.isna(base) else float(base)
                cells, worst = [], math.inf
                for m in others:
                    v = vals.get(m, math.nan)
                    v = math.nan if pd.isna(v) else float(v)
                    d = v - base if math.isfinite(v) and math.isfinite(base) else math.nan
                    if not math.isnan(d):
                        worst = min(worst, sign * d)
                    cls = "" if math.isnan(d) or d == 0 or hib is None else ("better" if sign * d > 0 else "worse")
                    cells.append({"text": _signed(d, metric) if not math.isnan(d) else "", "sort": _sort_key(d),
                                  "cls": cls, "title": f"{m}: {format_value(v, metric, REPORT_DECIMALS)}"})
                key = worst if others else (sign * base if not math.isnan(base) else math.inf)
                rows.append({"image": str(image), "ref": format_value(base, metric, REPORT_DECIMALS),
                             "ref_sort": _sort_key(base), "cells": cells, "_key": key})
            rows.sort(key=lambda x: x.pop("_key"))
            means, intervals = [], []
            for i in range(len(others)):
                ds = [float(c["sort"]) for c in (row["cells"][i] for row in rows) if c["sort"] not in ("", None)]
                means.append(_signed(float(np.mean(ds)), metric) if ds else "")
                intervals.append(_interval(ds, metric))
            ref_vals = [float(row["ref_sort"]) for row in rows if row["ref_sort"]]
            tables.append({"id": f"pivot-{gi}-{mi}", "metric": _metric_header(run, metric), "rows": rows,
                           "ref_mean": format_value(float(np.mean(ref_vals)), metric, REPORT_DECIMALS)
                           if ref_vals else "", "means": means, "intervals": intervals})
        groups.append({"label": f"{dataset_label(dataset)} \u00d7{int(scale)}", "dataset": dataset,
                       "scale": int(scale), "reference": ref, "models": others, "tables": tables})
    return groups


def _throughput_point(tp: pd.DataFrame, model: str, scale: int, dataset: str) -> tuple[float, str] | None:
    """The throughput of ``model`` at ``scale`` for the quality-vs-throughput plot: batch 1, measured on
    ``dataset`` when such a row exists, else at the largest LR size timed."""
    part = tp[(tp["model"].astype(str) == model) & (tp["scale"] == scale)]
    if part.empty or "images_per_s" not in part:
        return None
    if "batch" in part and (part["batch"] == 1).any():
        part = part[part["batch"] == 1]
    if "input" in part and (part["input"].astype(str) == dataset).any():
        part = part[part["input"].astype(str) == dataset]
    elif {"lr_height", "lr_width"} <= set(part.columns):
        area = pd.to_numeric(part["lr_height"], errors="coerce") * pd.to_numeric(part["lr_width"], errors="coerce")
        if area.notna().any():
            part = part.loc[[area.idxmax()]]
    rec = part.iloc[0]
    desc = ", ".join(f"{k} {rec[k]}" for k in ("input", "batch", "dtype", "device") if k in rec.index)
    return float(rec["images_per_s"]), desc


def _plots(run: RunData, notes: list[str]) -> list[dict[str, str]]:

    s = run.summary
    if s.empty:
        return []
    out = []
    perceptual = _perceptual_axis(run, notes)
    for (dataset, scale), part in s.groupby(["dataset", "scale"], sort=False):
        wide = part.pivot_table(index="model", columns="metric", values="value", aggfunc="last", sort=False)
        label = f"{dataset_label(dataset)} \u00d7{int(scale)}"
        if perceptual and {"psnr", perceptual} <= set(wide.columns):
            name = metric_label(perceptual)
            pts = [(m, float(wide.at[m, "psnr"]), float(wide.at[m, perceptual])) for m in run.models()
                   if m in wide.index and not pd.isna(wide.at[m, "psnr"]) and not pd.isna(wide.at[m, perceptual])]
            if pts:
                out.append({"title": f"Perception-distortion plane, {label}",
                            "uri": plots.perception_distortion_plot(pts, f"{label}: PSNR vs {name}", name),
                            "caption": "One point per model; right is less distortion, down is better "
                                       f"perceptual quality ({name})."})
        if run.throughput is not None and "psnr" in wide.columns:
            pts, descs = [], set()
            for m in run.models():
                if m not in wide.index or pd.isna(wide.at[m, "psnr"]):
                    continue
                tpp = _throughput_point(run.throughput, m, int(scale), str(dataset))
                if tpp is not None:
                    pts.append((m, tpp[0], float(wide.at[m, "psnr"])))
                    descs.add(tpp[1])
            if pts:
                out.append({"title": f"Quality vs throughput, {label}",
                            "uri": plots.quality_throughput_plot(pts, f"{label}: PSNR vs images/s"),
                            "caption": "Throughput measured at " + "; ".join(sorted(descs)) + "."})
    return out


PERCEPTUAL_AXES = ("lpips", "niqe")  # the plane's y axis: the first of these the run has (both lower-is-better)


def _perceptual_axis(run: RunData, notes: list[str]) -> str | None:
    """The metric on the plane's perceptual axis: LPIPS when the run has it, else NIQE; None (with a note
    saying why) when it has neither."""
    present = set(run.summary["metric"])
    proto = run.record.comparable_protocol()
    lpips_reason = None if proto.lpips_available or not isinstance(proto.lpips, dict) else proto.lpips.get("reason")
    if lpips_reason and lpips_reason in run.record.warnings:  # said once, in the Warnings box
        lpips_reason = "LPIPS is unavailable (see Warnings)"
    elif lpips_reason == "not requested":
        lpips_reason = "LPIPS was not requested"
    for metric in PERCEPTUAL_AXES:
        if metric in present:
            if metric != "lpips" and lpips_reason:
                notes.append(f"Perception-distortion plane drawn with {metric_label(metric)} instead of LPIPS: "
                             f"{lpips_reason}")
            return metric
    reason = lpips_reason or "the run has no LPIPS values"
    notes.append(f"Perception-distortion plane skipped: {reason} (and no NIQE values: add niqe to --metrics "
                 "for a reference-free perceptual axis)")
    return None


def _inside(run_dir: Path, rel: Any) -> Path | None:
    """``run_dir/rel`` if it is a file inside the run directory (no ``..`` escapes), else None."""
    if not isinstance(rel, str) or not rel:
        return None
    root = run_dir.resolve()
    p = (run_dir / rel).resolve()
    if root not in p.parents or not p.is_file():
        return None
    return p


def _spread_metric(run: RunData) -> str | None:
    """The metric the comparisons are ranked by: PSNR when present, else the first with a direction."""
    present = set(run.results["metric"]) if not run.results.empty else set()
    if "psnr" in present:
        return "psnr"
    return next((m for m in run.metrics() if m in present and run.higher_is_better(m) is not None), None)


def _image_spreads(run: RunData, metric: str | None) -> dict[tuple[str, int, str], float]:
    """(dataset, scale, image) -> max - min of ``metric`` over the run's models (finite values only)."""
    r = run.results
    if metric is None or r.empty:
        return {}
    part = r[(r["metric"] == metric) & np.isfinite(r["value"].astype(float))]
    spread = part.groupby(["dataset", "scale", "image"], sort=False)["value"].agg(lambda v: float(v.max() - v.min()))
    return {(str(d), int(s), str(i)): float(v) for (d, s, i), v in spread.items()}


def _crop_caption(sr: np.ndarray, hr: np.ndarray, y_channel: bool) -> str:
    """PSNR (dB) / SSIM of the crop itself (Y channel unless the run scored RGB; no border shave)."""
    from srbench.metrics.fidelity import psnr_ssim  # deferred: it imports scipy

    a, b = sr.transpose(2, 0, 1), hr.transpose(2, 0, 1)
    try:
        p, q = psnr_ssim(a, b, crop_border=0, y_channel=y_channel)
    except ValueError:  # a crop smaller than SSIM's 11x11 window
        from srbench.metrics.fidelity import psnr  # deferred: it imports scipy

        return f"crop {format_value(psnr(a, b, crop_border=0, y_channel=y_channel), 'psnr', REPORT_DECIMALS)} dB"
    return f"crop {format_value(p, 'psnr', REPORT_DECIMALS)} / {format_value(q, 'ssim', REPORT_DECIMALS)}"


def _comparisons(run: RunData, opt: ReportOptions, notes: list[str]) -> list[dict[str, Any]]:
    from srbench.data.io import read_image  # deferred: it imports PIL

    metric = _spread_metric(run)
    spreads = _image_spreads(run, metric)
    entries = sorted(run.record.comparisons, key=lambda c: -spreads.get((c.dataset, c.scale, c.image), -math.inf))
    if len(entries) > opt.max_comparisons:
        notes.append(f"Visual comparisons: showing {opt.max_comparisons} of {len(entries)} saved images, those "
                     f"with the largest {metric_label(metric or '')} spread between models.")
        entries = entries[: opt.max_comparisons]
    box_text = opt.crop_box or run.record.config.get("crop_box")
    if isinstance(box_text, (list, tuple)):  # run.json stores the CLI's --crop-box as [x, y, w, h]
        box_text = ",".join(str(v) for v in box_text)
    user_box = _crops.parse_box(box_text) if box_text else None
    y_channel = str(run.record.config.get("colour", "y")) != "rgb"
    per_image = run.results
    out = []
    for c in entries:
        hr_path = _inside(run.path, c.hr)
        label = f"{dataset_label(c.dataset)} \u00d7{c.scale} \u00b7 {c.image}"
        if hr_path is None:
            notes.append(f"Visual comparison {label}: HR image {c.hr!r} not found in the run directory.")
            continue
        hr = read_image(hr_path)
        outputs: dict[str, np.ndarray | str] = {}
        for model, rel in c.models.items():
            p = _inside(run.path, rel)
            if p is None:
                outputs[str(model)] = "image missing"
                continue
            sr = read_image(p)
            outputs[str(model)] = (sr if sr.shape[:2] == hr.shape[:2]
                                   else f"size {sr.shape[1]}x{sr.shape[0]} differs from HR")
        box, how = None, None
        if user_box is not None:
            box = _crops.fit_box(user_box, hr.shape[0], hr.shape[1])
            if box is None:
                notes.append(f"Visual comparison {label}: crop box {box_text} lies outside the "
                             f"{hr.shape[1]}x{hr.shape[0]} image; picked automatically instead.")
            else:
                how = "chosen (crop_box)"
        if box is None:
            images = [o for o in outputs.values() if isinstance(o, np.ndarray)]
            if len(images) >= 2:
                box, how = _crops.spread_box(images), "auto (largest difference between the models)"
            else:
                box, how = _crops.auto_box(hr), "auto (highest HR gradient energy)"
        zoom = _crops.zoom_factor(box, opt.crop_display)
        thumb = _crops.thumbnail(hr, opt.thumbnail_side)
        s = thumb.shape[1] / hr.shape[1]
        tbox = (int(box[0] * s), int(box[1] * s), max(2, round(box[2] * s)), max(2, round(box[3] * s)))
        hr_crop = _crops.crop(hr, box)
        panels = [{"label": "HR", "uri": _crops.png_data_uri(_crops.zoom_nearest(hr_crop, zoom)),
                   "caption": "reference", "whole": ""}]
        for model, sr in outputs.items():
            if isinstance(sr, str):
                panels.append({"label": model, "uri": None, "caption": sr, "whole": ""})
                continue
            sel = per_image[(per_image["model"] == model) & (per_image["dataset"] == c.dataset)
                            & (per_image["scale"] == c.scale) & (per_image["image"] == c.image)]
            vals = dict(zip(sel["metric"], sel["value"], strict=True))
            whole = " / ".join(format_value(float(vals[k]), k, REPORT_DECIMALS) for k in ("psnr", "ssim")
                               if k in vals)
            sr_crop = _crops.crop(sr, box)
            panels.append({"label": model, "uri": _crops.png_data_uri(_crops.zoom_nearest(sr_crop, zoom)),
                           "caption": _crop_caption(sr_crop, hr_crop, y_channel),
                           "whole": f"image {whole}" if whole else ""})
        spread = spreads.get((c.dataset, c.scale, c.image))
        unit = run.record.metric(metric).unit if metric else None
        spread_text = "" if spread is None or metric is None else (
            f"{metric_label(metric)} spread between models {format_value(spread, metric, REPORT_DECIMALS)}"
            + (f" {unit}" if unit else ""))
        out.append({"label": label, "thumb": _crops.png_data_uri(_crops.draw_box(thumb, tbox)),
                    "box": f"{box[0]},{box[1]},{box[2]},{box[3]}", "how": how, "zoom": zoom, "panels": panels,
                    "spread": spread_text})
    return out
