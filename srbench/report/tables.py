"""Paper tables: ``srbench table RUN_DIR [RUN_DIR...] --format latex|markdown|csv``.

Default layout = the SRGAN paper's Table 2: datasets as row groups, metrics as rows, models as columns
(``transpose=True``: models as rows, (dataset, metric) as columns). The best value of each row (each
column when transposed) among srbench's own columns is bold, its direction taken from the metric's
metadata and compared as printed (ties are all bold). Published numbers from ``baselines/published.csv``
(``published=True``) appear as extra columns "model (source)" beside the model's srbench column; they are
references measured with other code (the SRGAN paper used the daala package), so they are never bolded.
The LaTeX output needs ``\\usepackage{booktabs}``.

Every group label carries its scale ("Set5 ×4"). Footnotes (Markdown: lines under the table; LaTeX: a last
row spanning the table; CSV: none) say what the marks mean: a dagger marks a model run with demo weights
(run.json ``models.<name>.demo``), and a requested metric a run lacks is printed as "–" and named with
the reason the run recorded. ``ci=True`` adds to each value its difference to the run's reference model
(summary.csv ``delta``, default bicubic) with the 95 % paired bootstrap interval, "n.s." where it spans 0.
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
from srbench.metrics.significance import significant
from srbench.protocol import grayscale_convention
from srbench.report.format import (
    TABLE_DECIMALS,
    arrow,
    best_flags,
    canonical_dataset,
    dataset_label,
    format_value,
    metric_label,
)
from srbench.rundir import FALLBACK_METRICS, RunData, RunLike, aggregate, as_run_data

FORMATS = ("markdown", "latex", "csv")
PUBLISHED_COLUMNS = ("model", "dataset", "scale", "metric", "value", "source", "reference")  # + optional grayscale

GroupKey = tuple[str, int]  # (canonical dataset id, scale)


DAGGER = "\u2020"


@dataclass
class _Column:
    label: str
    measured: bool  # srbench's own numbers (eligible for bold) vs published references
    values: dict[tuple[str, int, str], float] = field(default_factory=dict)  # (dataset, scale, metric) -> value
    demo: bool = False  # run with demo weights (not the paper's): marked with a dagger
    run_label: str = ""
    # (dataset, scale, metric) -> (delta, ci_low, ci_high) to the run's reference model
    intervals: dict[tuple[str, int, str], tuple[float, float, float]] = field(default_factory=dict)
    reference: str = ""
    grayscale: str = ""  # published columns: how the source scored single-channel images ("raw" / "replicate")


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
    df = pd.read_csv(p, dtype={"model": str, "dataset": str, "metric": str, "source": str, "reference": str,
                               "grayscale": str},
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


def run_labels(run_dirs: Sequence[RunLike], runs: Sequence[RunData], labels: dict[str, str] | None) -> list[str]:
    """Each run's label: ``labels[RUN]`` where RUN is the run directory as given, its path, its folder name
    or its run id; else the run id. Raises ValueError for a label that names no run."""
    labels = dict(labels or {})
    out = []
    used: set[str] = set()
    for given, run in zip(run_dirs, runs, strict=True):
        keys = [run.run_id, run.path.name, str(run.path)]
        if isinstance(given, (str, Path)):
            keys += [str(given), str(Path(given)), str(Path(given).resolve())]
        hit = next((k for k in keys if k in labels), None)
        if hit is not None:
            used.add(hit)
        out.append(labels[hit] if hit is not None else run.run_id)
    unknown = sorted(set(labels) - used)
    if unknown:
        raise ValueError(f"render_table: --label names no run: {', '.join(unknown)} (runs: "
                         + ", ".join(r.run_id for r in runs) + ")")
    return out


def _stats(run: RunData) -> pd.DataFrame:
    """The run's summary with the delta/interval columns; recomputed from results.csv for a run written
    before summary.csv had them (schema 1)."""
    s = run.summary
    if "ci_low" in s.columns and s["ci_low"].notna().any():
        return s
    return aggregate(run.results) if not run.results.empty else s


def _collect(run_dirs: Sequence[RunLike], metrics: Sequence[str], scale: int | None, published: bool,
             published_csv: Path | None, sources: Sequence[str] | None, labels: dict[str, str] | None = None,
             ci: bool = False):
    runs = [as_run_data(p, name=f"run {i}") for i, p in enumerate(run_dirs, 1)]
    if not runs:
        raise ValueError("render_table: give at least one run directory")
    names = run_labels(run_dirs, runs, labels)
    model_runs: dict[str, list[str]] = {}
    for run in runs:
        for m in run.models():
            model_runs.setdefault(m, []).append(run.run_id)
    columns: list[_Column] = []
    models_of_column: list[str] = []
    groups: dict[GroupKey, str] = {}  # -> display name of the dataset as the first run spells it
    for run, run_label in zip(runs, names, strict=True):
        s = _stats(run) if ci else run.summary
        if scale is not None:
            s = s[s["scale"] == scale]
        s = s[s["metric"].isin(metrics)]
        for rec in s.itertuples(index=False):
            groups.setdefault((canonical_dataset(rec.dataset), int(rec.scale)), rec.dataset)
        for m in run.models():
            part = s[s["model"] == m]
            if part.empty:
                continue
            label = m if len(model_runs[m]) == 1 else f"{m} [{run_label}]"
            record = run.record.models.get(m)
            col = _Column(label, True, demo=bool(record is not None and record.demo), run_label=run_label)
            for rec in part.itertuples(index=False):
                key = (canonical_dataset(rec.dataset), int(rec.scale), rec.metric)
                col.values[key] = float(rec.value)
                if ci and getattr(rec, "reference", "") and not math.isnan(getattr(rec, "delta", math.nan)):
                    col.intervals[key] = (float(rec.delta), float(rec.ci_low), float(rec.ci_high))
                    col.reference = str(rec.reference)
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
                pc.grayscale = next((g for g in rows.get("grayscale", pd.Series(dtype=str)) if g), "")
                for rec in rows.itertuples(index=False):
                    key = (rec.dataset, int(rec.scale))
                    if key in groups:
                        pc.values[(rec.dataset, int(rec.scale), rec.metric)] = float(rec.value)
                if pc.values:
                    ordered.append(pc)
        columns = ordered
    return runs, columns, groups, names


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
    labels: dict[str, str] | None = None,
    ci: bool = False,
) -> str:
    """Render the summaries of ``run_dirs`` as a paper table in ``fmt`` ("markdown", "latex" or "csv").

    Each run is a run directory, a loaded RunData or a DataFrame in memory (per-image results or a summary;
    see :func:`srbench.rundir.as_run_data`; in-memory runs are named "run 1", "run 2", ...).

    ``scale`` keeps one scale (default: all; groups are labelled "Set5 ×4" either way). ``metrics`` gives
    the rows and their order; a metric a run lacks is printed as "–" with a footnote naming the run (and
    the reason it recorded, e.g. LPIPS unavailable). ``published`` adds the columns of ``published_csv``
    (default ``baselines/published.csv``) for the models present, optionally only the given ``sources``
    (e.g. ("SRGAN T2",)). ``labels`` names runs ({run dir, folder name or run id: label}); a model present
    in several runs gets one column per run, "model [label]" (default label: the run id). Models with
    demo weights get a dagger and a footnote. ``ci``: each value with its difference to the run's reference
    model and the 95 % paired bootstrap interval, ``+0.52 [+0.40, +0.65]``, "n.s." where it spans 0.
    Values are printed with the field's decimals (PSNR 2, SSIM/LPIPS 4).
    """
    if fmt not in FORMATS:
        raise ValueError(f"render_table: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    metrics = tuple(m.lower() for m in metrics)
    if not metrics:
        raise ValueError("render_table: give at least one metric")
    run_dirs = list(run_dirs)
    runs, columns, groups, names = _collect(run_dirs, metrics, scale, published, published_csv, sources, labels, ci)
    directions = _directions(runs, metrics)
    several_scales = len({s for _, s in groups}) > 1
    group_list = list(groups)  # order of first appearance (the runs' configured order)
    group_labels = {g: dataset_label(groups[g]) + f" \u00d7{g[1]}" for g in group_list}
    # every requested metric is a row of every group: a missing one is shown as missing, with a note
    rows = [(g, m) for g in group_list for m in metrics]
    bold: dict[tuple[GroupKey, str], list[bool]] = {}
    for g, m in rows:
        measured = [c.values.get((g[0], g[1], m)) if c.measured else None for c in columns]
        bold[(g, m)] = best_flags(measured, m, directions[m], TABLE_DECIMALS)
    notes = _notes(runs, names, columns, rows, metrics, ci)
    spec = _Spec(columns, rows, group_list, group_labels, directions, bold, several_scales, ci, notes)
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
    ci: bool = False
    notes: tuple[str, ...] = ()

    def value(self, col: _Column, g: GroupKey, m: str) -> float | None:
        return col.values.get((g[0], g[1], m))

    def interval(self, col: _Column, g: GroupKey, m: str) -> str:
        """`` +0.52 [+0.40, +0.65]`` (`` n.s.`` appended where it spans 0); '' without one."""
        if not self.ci or (g[0], g[1], m) not in col.intervals:
            return ""
        delta, lo, hi = col.intervals[(g[0], g[1], m)]
        d = TABLE_DECIMALS.get(m, 4)
        if math.isnan(lo):
            return f" {delta:+.{d}f}"
        ns = " n.s." if significant(lo, hi) is False else ""
        return f" {delta:+.{d}f} [{lo:+.{d}f}, {hi:+.{d}f}]{ns}"

    def label(self, col: _Column) -> str:
        return col.label + (DAGGER if col.demo else "")

    def metrics_of(self, g: GroupKey) -> list[str]:
        return [m for gg, m in self.rows if gg == g]


def _notes(runs: Sequence[RunData], names: Sequence[str], columns: Sequence[_Column],
           rows: Sequence[tuple[GroupKey, str]], metrics: Sequence[str], ci: bool) -> tuple[str, ...]:
    """The footnotes, in the order: demo weights, missing metrics, the interval's definition."""
    out = []
    demo = [c.label for c in columns if c.demo]
    if demo:
        out.append(f"{DAGGER} demo weights (not the paper's): {', '.join(demo)}.")
    for m in metrics:
        lacking = []
        for run, name in zip(runs, names, strict=True):
            mine = [c for c in columns if c.measured and c.run_label == name]
            if mine and not any((g[0], g[1], m) in c.values for c in mine for g, mm in rows if mm == m):
                why = _why_missing(run, m)
                lacking.append(f"run {name}" + (f" ({why})" if why else ""))
        if lacking:
            out.append(f"\u2013 {metric_label(m)}: not computed in {'; '.join(lacking)}.")
    conventions = {grayscale_convention(run.record.protocol.grayscale) or "raw" for run in runs}
    for c in columns:
        if c.grayscale and conventions - {c.grayscale}:
            out.append(f"{c.label}: published with single-channel images (Set14's bridge) scored "
                       f"{'raw' if c.grayscale == 'raw' else 'replicated to RGB'}; a run here used "
                       f"--grayscale {' / '.join(sorted(conventions - {c.grayscale}))}, so Set14 differs by about "
                       "0.09 dB for that reason alone.")
    if ci and any(c.intervals for c in columns):
        refs = sorted({c.reference for c in columns if c.reference})
        out.append(f"Difference to {', '.join(refs)}: mean per-image difference [95% paired bootstrap interval, "
                   "10,000 resamples]; n.s.: the interval contains 0.")
    return tuple(out)


def _why_missing(run: RunData, metric: str) -> str:
    """The reason a run recorded for not computing ``metric`` (LPIPS: run.json protocol.lpips.reason)."""
    protocol = run.record.protocol
    entry = protocol.to_json().get(metric) if hasattr(protocol, "to_json") else None
    if isinstance(entry, dict) and entry.get("reason"):
        return str(entry["reason"]).split(". ")[0]
    if metric not in run.record.config_list("metrics"):
        return "not requested"
    return ""


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
        head = ["Dataset", "Metric"] + [md_escape(spec.label(c)) for c in spec.columns]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join([":---", ":---"] + ["---:"] * len(spec.columns)) + "|")
        prev = None
        for g, m in spec.rows:
            cells = [md_escape(spec.group_labels[g]) if g != prev else "", _metric_head(m, spec.directions)]
            cells += [_md_cell(spec.value(c, g, m), m, spec.bold[(g, m)][i]) + md_escape(spec.interval(c, g, m))
                      for i, c in enumerate(spec.columns)]
            lines.append("| " + " | ".join(cells) + " |")
            prev = g
    else:
        head = ["Model"] + [f"{md_escape(spec.group_labels[g])} {_metric_head(m, spec.directions)}"
                            for g, m in spec.rows]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join([":---"] + ["---:"] * len(spec.rows)) + "|")
        for i, c in enumerate(spec.columns):
            cells = [md_escape(spec.label(c))] + [_md_cell(spec.value(c, g, m), m, spec.bold[(g, m)][i])
                                                  + md_escape(spec.interval(c, g, m)) for g, m in spec.rows]
            lines.append("| " + " | ".join(cells) + " |")
    if spec.notes:
        lines += [""] + [md_escape(n) + "  " for n in spec.notes[:-1]] + [md_escape(spec.notes[-1])]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------------- LaTeX

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "\u00d7": r"$\times$",
                DAGGER: r"$^\dagger$", "\u2013": "--"}


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
        out.append(" & ".join(["Dataset", "Metric"] + [tex_escape(spec.label(c)) for c in spec.columns]) + " \\\\\n")
        prev = None
        for g, m in spec.rows:
            if g != prev:
                out.append("\\midrule\n")
            cells = [tex_escape(spec.group_labels[g]) if g != prev else "", _tex_metric(m, spec.directions)]
            cells += [_tex_cell(spec.value(c, g, m), m, spec.bold[(g, m)][i]) + tex_escape(spec.interval(c, g, m))
                      for i, c in enumerate(spec.columns)]
            out.append(" & ".join(cells) + " \\\\\n")
            prev = g
        width = 2 + len(spec.columns)
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
            cells = [tex_escape(spec.label(c))] + [_tex_cell(spec.value(c, g, m), m, spec.bold[(g, m)][i])
                                                   + tex_escape(spec.interval(c, g, m)) for g, m in spec.rows]
            out.append(" & ".join(cells) + " \\\\\n")
        width = 1 + len(spec.rows)
    out.append("\\bottomrule\n")
    for note in spec.notes:  # inside the tabular, so that the table stays one block wherever it is put
        out.append(f"\\multicolumn{{{width}}}{{l}}{{\\footnotesize {tex_escape(note)}}} \\\\\n")
    out.append("\\end{tabular}\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------- CSV


def _csv(spec: _Spec, transpose: bool) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def cell(c: _Column, g: GroupKey, m: str) -> str:
        v = spec.value(c, g, m)
        return "" if v is None else format_value(v, m, TABLE_DECIMALS) + spec.interval(c, g, m)

    if not transpose:
        w.writerow(["dataset", "scale", "metric"] + [spec.label(c) for c in spec.columns])
        for g, m in spec.rows:
            w.writerow([dataset_label(g[0]), g[1], m] + [cell(c, g, m) for c in spec.columns])
    else:
        w.writerow(["model"] + [f"{dataset_label(g[0])} x{g[1]} {m}" for g, m in spec.rows])
        for c in spec.columns:
            w.writerow([spec.label(c)] + [cell(c, g, m) for g, m in spec.rows])
    return buf.getvalue()
