"""Paper tables: ``srbench table RUN_DIR [RUN_DIR...] --format latex|markdown|csv``.

Default layout = the SRGAN paper's Table 2: datasets as row groups, metrics as rows, models as columns
(``transpose=True``: models as rows, (dataset, metric) as columns). The best value of each row (each
column when transposed) among srbench's own columns is bold, its direction taken from the metric's
metadata and compared as printed (ties are all bold). Published numbers from ``baselines/published.csv``
(``published=True``) appear as extra columns "model (source)" beside the model's srbench column; they are
references measured with other code (the SRGAN paper used the daala package), so they are never bolded.
The LaTeX output needs ``\\usepackage{booktabs}``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from srbench.markup import md_escape
from srbench.report.format import (
    TABLE_DECIMALS,
    arrow,
    best_flags,
    canonical_dataset,
    dataset_label,
    format_value,
    metric_label,
)
from srbench.rundir import FALLBACK_METRICS, RunData, RunLike, as_run_data

FORMATS = ("markdown", "latex", "csv")
PUBLISHED_COLUMNS = ("model", "dataset", "scale", "metric", "value", "source", "reference")

GroupKey = tuple[str, int]  # (canonical dataset id, scale)


@dataclass
class _Column:
    label: str
    measured: bool  # srbench's own numbers (eligible for bold) vs published references
    values: dict[tuple[str, int, str], float] = field(default_factory=dict)  # (dataset, scale, metric) -> value


def published_path() -> Path:
    """``baselines/published.csv``: inside the installed package (srbench/baselines links to the repo's
    baselines/ folder), else the repository checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "baselines" / "published.csv", here.parent / "baselines" / "published.csv"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("baselines/published.csv not found next to the srbench package or its checkout")


def load_published(path: Path | None = None) -> pd.DataFrame:
    """Published reference numbers (columns ``PUBLISHED_COLUMNS``; dataset ids canonical, ``inf`` allowed)."""
    p = Path(path) if path is not None else published_path()
    df = pd.read_csv(p, dtype={"model": str, "dataset": str, "metric": str, "source": str, "reference": str},
                     keep_default_na=False)
    missing = [c for c in PUBLISHED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{p}: missing column(s) {', '.join(missing)}")
    df["value"] = pd.to_numeric(df["value"], errors="raise").astype("float64")
    df["scale"] = df["scale"].astype(int)
    df["dataset"] = df["dataset"].map(canonical_dataset)
    return df


def _directions(runs: Sequence[RunData], metrics: Sequence[str]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for m in metrics:
        hib = None
        for run in runs:
            if m in run.record.metrics:
                hib = run.higher_is_better(m)
                break
        if hib is None and m in FALLBACK_METRICS:
            hib = bool(FALLBACK_METRICS[m]["higher_is_better"])
        out[m] = hib
    return out


def _collect(run_dirs: Sequence[RunLike], metrics: Sequence[str], scale: int | None, published: bool,
             published_csv: Path | None, sources: Sequence[str] | None):
    runs = [as_run_data(p, name=f"run {i}") for i, p in enumerate(run_dirs, 1)]
    if not runs:
        raise ValueError("render_table: give at least one run directory")
    model_runs: dict[str, list[str]] = {}
    for run in runs:
        for m in run.models():
            model_runs.setdefault(m, []).append(run.run_id)
    columns: list[_Column] = []
    models_of_column: list[str] = []
    groups: dict[GroupKey, str] = {}  # -> display name of the dataset as the first run spells it
    for run in runs:
        s = run.summary
        if scale is not None:
            s = s[s["scale"] == scale]
        s = s[s["metric"].isin(metrics)]
        for rec in s.itertuples(index=False):
            groups.setdefault((canonical_dataset(rec.dataset), int(rec.scale)), rec.dataset)
        for m in run.models():
            part = s[s["model"] == m]
            if part.empty:
                continue
            label = m if len(model_runs[m]) == 1 else f"{m} [{run.run_id}]"
            col = _Column(label, True)
            for rec in part.itertuples(index=False):
                col.values[(canonical_dataset(rec.dataset), int(rec.scale), rec.metric)] = float(rec.value)
            columns.append(col)
            models_of_column.append(m)
    if not columns:
        what = f" at scale x{scale}" if scale is not None else ""
        raise ValueError(f"render_table: no values for metrics {', '.join(metrics)}{what} in "
                         + ", ".join(str(p) for p in run_dirs))
    if published:
        pub = load_published(published_csv)
        if sources:
            pub = pub[pub["source"].isin(sources)]
        pub = pub[pub["metric"].isin(metrics)]
        ordered: list[_Column] = []
        done: set[str] = set()
        for col, model in zip(columns, models_of_column, strict=True):
            ordered.append(col)
            if model.lower() in done:
                continue
            done.add(model.lower())
            mine = pub[pub["model"].str.lower() == model.lower()]
            for source in dict.fromkeys(mine["source"]):
                rows = mine[mine["source"] == source]
                pc = _Column(f"{model} ({source})", False)
                for rec in rows.itertuples(index=False):
                    key = (rec.dataset, int(rec.scale))
                    if key in groups:
                        pc.values[(rec.dataset, int(rec.scale), rec.metric)] = float(rec.value)
                if pc.values:
                    ordered.append(pc)
        columns = ordered
    return runs, columns, groups


def render_table(
    run_dirs: Sequence[RunLike],
    *,
    fmt: str = "markdown",
    transpose: bool = False,
    published: bool = False,
    metrics: tuple[str, ...] = ("psnr", "ssim"),
    scale: int | None = None,
    published_csv: Path | None = None,
    sources: tuple[str, ...] | None = None,
) -> str:
    """Render the summaries of ``run_dirs`` as a paper table in ``fmt`` ("markdown", "latex" or "csv").

    Each run is a run directory, a loaded RunData or a DataFrame in memory (per-image results or a summary;
    see :func:`srbench.rundir.as_run_data`; in-memory runs are named "run 1", "run 2", ...).

    ``scale`` keeps one scale (default: all; groups are then labelled "Set5 x4"). ``metrics`` gives the
    rows and their order; a metric no column has is left out. ``published`` adds the columns of
    ``published_csv`` (default ``baselines/published.csv``) for the models present, optionally only the
    given ``sources`` (e.g. ("SRGAN T2",)). A model present in several runs gets one column per run,
    labelled "model [run id]". Values are printed with the field's decimals (PSNR 2, SSIM/LPIPS 4).
    """
    if fmt not in FORMATS:
        raise ValueError(f"render_table: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    metrics = tuple(m.lower() for m in metrics)
    if not metrics:
        raise ValueError("render_table: give at least one metric")
    runs, columns, groups = _collect(list(run_dirs), metrics, scale, published, published_csv, sources)
    directions = _directions(runs, metrics)
    several_scales = len({s for _, s in groups}) > 1
    group_list = list(groups)  # order of first appearance (the runs' configured order)
    group_labels = {g: dataset_label(groups[g]) + (f" \u00d7{g[1]}" if several_scales else "") for g in group_list}
    # rows = (group, metric) that at least one column has a value for
    rows = [(g, m) for g in group_list for m in metrics if any((g[0], g[1], m) in c.values for c in columns)]
    bold: dict[tuple[GroupKey, str], list[bool]] = {}
    for g, m in rows:
        measured = [c.values.get((g[0], g[1], m)) if c.measured else None for c in columns]
        bold[(g, m)] = best_flags(measured, m, directions[m], TABLE_DECIMALS)
    spec = _Spec(columns, rows, group_list, group_labels, directions, bold, several_scales)
    if fmt == "csv":
        return _csv(spec, transpose)
    if fmt == "latex":
        return _latex(spec, transpose)
    return _markdown(spec, transpose)


@dataclass(frozen=True)
class _Spec:
    columns: list[_Column]
    rows: list[tuple[GroupKey, str]]
    groups: list[GroupKey]
    group_labels: dict[GroupKey, str]
    directions: dict[str, bool | None]
    bold: dict[tuple[GroupKey, str], list[bool]]
    several_scales: bool

    def value(self, col: _Column, g: GroupKey, m: str) -> float | None:
        return col.values.get((g[0], g[1], m))

    def metrics_of(self, g: GroupKey) -> list[str]:
        return [m for gg, m in self.rows if gg == g]


# ----------------------------------------------------------------------------------------------- markdown

def _md_cell(v: float | None, metric: str, bold: bool) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "\u2013"
    text = format_value(v, metric, TABLE_DECIMALS, inf="\u221e")
    return f"**{text}**" if bold else text


def _metric_head(m: str, directions: dict[str, bool | None]) -> str:
    a = arrow(directions.get(m))
    return metric_label(m) + (f" {a}" if a else "")


def _markdown(spec: _Spec, transpose: bool) -> str:
    lines = []
    if not transpose:
        head = ["Dataset", "Metric"] + [md_escape(c.label) for c in spec.columns]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join([":---", ":---"] + ["---:"] * len(spec.columns)) + "|")
        prev = None
        for g, m in spec.rows:
            cells = [md_escape(spec.group_labels[g]) if g != prev else "", _metric_head(m, spec.directions)]
            cells += [_md_cell(spec.value(c, g, m), m, spec.bold[(g, m)][i]) for i, c in enumerate(spec.columns)]
            lines.append("| " + " | ".join(cells) + " |")
            prev = g
    else:
        head = ["Model"] + [f"{md_escape(spec.group_labels[g])} {_metric_head(m, spec.directions)}" for g, m in spec.rows]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join([":---"] + ["---:"] * len(spec.rows)) + "|")
        for i, c in enumerate(spec.columns):
            cells = [md_escape(c.label)] + [_md_cell(spec.value(c, g, m), m, spec.bold[(g, m)][i]) for g, m in spec.rows]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------------- LaTeX

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "\u00d7": r"$\times$"}


def tex_escape(text: str) -> str:
    """Text for a LaTeX cell: every special character of LaTeX (and <, >, | of OT1 fonts) escaped."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text)).replace("\n", " ")


def _tex_cell(v: float | None, metric: str, bold: bool) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "--"
    if math.isinf(v):
        text = r"$\infty$" if v > 0 else r"$-\infty$"
    else:
        text = format_value(v, metric, TABLE_DECIMALS)
    return rf"\textbf{{{text}}}" if bold else text


def _tex_metric(m: str, directions: dict[str, bool | None]) -> str:
    hib = directions.get(m)
    a = "" if hib is None else (r" $\uparrow$" if hib else r" $\downarrow$")
    return tex_escape(metric_label(m)) + a


_TEX_HEADER = "% srbench table; needs \\usepackage{booktabs}. Bold: best srbench value; (source): published.\n"


def _latex(spec: _Spec, transpose: bool) -> str:
    out = [_TEX_HEADER]
    if not transpose:
        out.append("\\begin{tabular}{ll" + "r" * len(spec.columns) + "}\n\\toprule\n")
        out.append(" & ".join(["Dataset", "Metric"] + [tex_escape(c.label) for c in spec.columns]) + " \\\\\n")
        prev = None
        for g, m in spec.rows:
            if g != prev:
                out.append("\\midrule\n")
            cells = [tex_escape(spec.group_labels[g]) if g != prev else "", _tex_metric(m, spec.directions)]
            cells += [_tex_cell(spec.value(c, g, m), m, spec.bold[(g, m)][i]) for i, c in enumerate(spec.columns)]
            out.append(" & ".join(cells) + " \\\\\n")
            prev = g
    else:
        out.append("\\begin{tabular}{l" + "r" * len(spec.rows) + "}\n\\toprule\n")
        heads, rules, col = [""], [], 2
        for g in spec.groups:
            n = len(spec.metrics_of(g))
            if n == 0:
                continue
            heads.append(f"\\multicolumn{{{n}}}{{c}}{{{tex_escape(spec.group_labels[g])}}}")
            rules.append(f"\\cmidrule(lr){{{col}-{col + n - 1}}}")
            col += n
        out.append(" & ".join(heads) + " \\\\\n")
        out.append(" ".join(rules) + "\n")
        out.append(" & ".join(["Model"] + [_tex_metric(m, spec.directions) for _, m in spec.rows]) + " \\\\\n")
        out.append("\\midrule\n")
        for i, c in enumerate(spec.columns):
            cells = [tex_escape(c.label)] + [_tex_cell(spec.value(c, g, m), m, spec.bold[(g, m)][i]) for g, m in spec.rows]
            out.append(" & ".join(cells) + " \\\\\n")
    out.append("\\bottomrule\n\\end{tabular}\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------- CSV


def _csv(spec: _Spec, transpose: bool) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def cell(v: float | None, m: str) -> str:
        return "" if v is None else format_value(v, m, TABLE_DECIMALS)

    if not transpose:
        w.writerow(["dataset", "scale", "metric"] + [c.label for c in spec.columns])
        for g, m in spec.rows:
            w.writerow([dataset_label(g[0]), g[1], m] + [cell(spec.value(c, g, m), m) for c in spec.columns])
    else:
        w.writerow(["model"] + [f"{dataset_label(g[0])} x{g[1]} {m}" for g, m in spec.rows])
        for c in spec.columns:
            w.writerow([c.label] + [cell(spec.value(c, g, m), m) for g, m in spec.rows])
    return buf.getvalue()
