"""Run directories as pandas DataFrames (reports, tables, checks, ``srbench.load_results``)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from srbench.config import RunConfig, model_label
from srbench.files import unescape_text
from srbench.interfaces import (
    RESULT_COLUMNS,
    SUMMARY_COLUMNS,
    ResultRow,
)
from srbench.perf.table import THROUGHPUT_TEXT_COLUMNS
from srbench.protocol import protocol
from srbench.rundir.common import (
    FALLBACK_METRICS,
    RESULTS_CSV,
    SUMMARY_CSV,
    THROUGHPUT_CSV,
    RunDirError,
)
from srbench.rundir.csvfiles import SUMMARY_CSV_COLUMNS, SUMMARY_STATS_COLUMNS, SummaryRow, summarise
from srbench.rundir.record import RunRecord, read_run_json

if TYPE_CHECKING:
    import pandas as pd

# --------------------------------------------------------------------------------------- DataFrames

_TEXT_COLUMNS = ("model", "dataset", "image", "metric", "reference")
_STATS_NUMERIC = ("std", "delta", "ci_low", "ci_high")


@dataclass(frozen=True)
class RunData:
    """Everything a run directory holds. DataFrames are tidy (one row per value)."""

    path: Path
    meta: dict[str, Any]  # run.json as written
    results: pd.DataFrame  # model, dataset, scale, image, metric, value (per image)
    summary: pd.DataFrame  # model, dataset, scale, metric, value, n_images (mean over images), std, reference,
    #                        delta, ci_low, ci_high (NaN / "" where undefined or read from a schema-1 file)
    throughput: pd.DataFrame | None  # throughput.csv, or None when the throughput pass did not run
    record: RunRecord = field(default=None)  # type: ignore[assignment]  # run.json, typed

    def __post_init__(self) -> None:
        if self.record is None:
            object.__setattr__(self, "record", RunRecord.from_json(self.meta, run_id=self.path.name))

    @property
    def run_id(self) -> str:
        return self.record.run_id or self.path.name

    def metric_meta(self, metric: str) -> dict[str, Any]:
        """Metadata of ``metric`` as a dict: run.json's entry, else srbench's fallback, else no direction."""
        entry = self.meta.get("metrics", {}).get(metric) if isinstance(self.meta.get("metrics"), dict) else None
        if isinstance(entry, dict):
            return {**FALLBACK_METRICS.get(metric, {}), **entry}
        return dict(FALLBACK_METRICS.get(metric, {"higher_is_better": None, "unit": "", "version": "?"}))

    def higher_is_better(self, metric: str) -> bool | None:
        """Direction of ``metric``; None when unknown (then no arrow and no "best")."""
        value = self.metric_meta(metric).get("higher_is_better")
        return None if value is None else bool(value)

    def metrics(self) -> list[str]:
        """Metrics present in the summary, in the run's configured order, then alphabetical."""
        present = set(self.summary["metric"]) if len(self.summary) else set()
        order = [m for m in self.record.config_list("metrics") if m in present]
        return order + sorted(present - set(order))

    def models(self) -> list[str]:
        """Models in the run's configured order, then in order of appearance."""
        seen = list(dict.fromkeys(self.summary["model"])) if len(self.summary) else []
        order = [model_label(m)[0] for m in self.record.config_list("models") if model_label(m)[0] in seen]
        return order + [m for m in seen if m not in order]


def _float(x: object) -> float:
    if isinstance(x, str):
        x = x.strip()
        return math.nan if x == "" else float(x)  # float() reads inf, -inf, nan, Infinity
    return float(x)  # type: ignore[arg-type]


def _read_csv(path: Path, columns: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=dict.fromkeys(_TEXT_COLUMNS, str), keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise RunDirError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    for c in _TEXT_COLUMNS:
        if c in df.columns:
            df[c] = [unescape_text(str(x)) for x in df[c]]
    df = _numeric(path, df, numeric)
    if "scale" in df.columns:
        try:
            df["scale"] = df["scale"].astype(int)
        except (TypeError, ValueError) as exc:
            raise RunDirError(f"{path}: column 'scale' has a non-integer value ({exc})") from None
    return df


def _numeric(path: Path, df: pd.DataFrame, numeric: tuple[str, ...]) -> pd.DataFrame:
    for c in numeric:
        # "inf" is legal (PSNR of identical images); an empty cell or "nan" means not computed.
        try:
            df[c] = [_float(x) for x in df[c]]
        except ValueError as exc:
            raise RunDirError(f"{path}: column {c!r} has a non-numeric value ({exc})") from None
        df[c] = df[c].astype("float64")
    return df


def summary_frame(summary: Iterable[SummaryRow]) -> pd.DataFrame:
    """summary.csv's columns as a DataFrame, from :func:`summarise`'s rows."""
    import pandas as pd

    rows = list(summary)
    if not rows:
        return with_summary_stats(pd.DataFrame({c: pd.Series(dtype=object) for c in SUMMARY_COLUMNS}))
    df = pd.DataFrame([[s.model, s.dataset, s.scale, s.metric, s.value, s.n_images, s.std, s.reference or "",
                        s.delta, s.ci_low, s.ci_high] for s in rows], columns=list(SUMMARY_CSV_COLUMNS))
    for c in ("value", *_STATS_NUMERIC):
        df[c] = df[c].astype("float64")
    return df


def with_summary_stats(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with the schema-2 statistics columns, added as NaN ("" for ``reference``) when absent
    (a schema-1 summary.csv, a hand-made DataFrame)."""
    for c in SUMMARY_STATS_COLUMNS:
        if c not in summary.columns:
            summary[c] = "" if c == "reference" else math.nan
    for c in _STATS_NUMERIC:
        summary[c] = summary[c].astype("float64")
    return summary


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """summary.csv from a results DataFrame: :func:`summarise` (the one aggregation) on its rows."""
    rows = [ResultRow(str(r.model), str(r.dataset), int(r.scale), str(r.image), str(r.metric), float(r.value))
            for r in results.itertuples(index=False)] if not results.empty else []
    return summary_frame(summarise(rows))


def _read_throughput(path: Path) -> pd.DataFrame:
    """throughput.csv: text columns unescaped; every other column numeric where it parses (empty = NaN)."""
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in df.columns:
        if c in THROUGHPUT_TEXT_COLUMNS:
            df[c] = [unescape_text(x) for x in df[c]]
            continue
        cells = [x.strip() for x in df[c]]
        try:
            if all(x == "" or x.lstrip("-").isdigit() for x in cells):  # integers (batch, params...)
                df[c] = pd.array([int(x) if x else None for x in cells], dtype="Int64")
            else:
                df[c] = [_float(x) for x in cells]
        except ValueError:
            continue  # e.g. booleans "True"/"False": shown as text
    if "scale" in df.columns:
        df["scale"] = df["scale"].astype(int)
    return df


def load_run_dir(run_dir: str | os.PathLike[str]) -> RunData:
    """Read ``run_dir``. summary.csv is recomputed from results.csv when absent (interrupted runs).

    Raises RunDirError naming the file when run.json or results.csv is missing or unreadable, or when
    the schema version is not one this srbench understands.
    """
    path = Path(run_dir)
    meta = read_run_json(path)
    results_csv = path / RESULTS_CSV
    if not results_csv.is_file():
        raise RunDirError(f"{results_csv}: missing")
    results = _read_csv(results_csv, RESULT_COLUMNS, ("value",))
    summary_csv = path / SUMMARY_CSV
    if summary_csv.is_file():
        summary = _read_csv(summary_csv, tuple(SUMMARY_COLUMNS), ("value", "n_images"))
        summary["n_images"] = summary["n_images"].astype(int)
        present = tuple(c for c in _STATS_NUMERIC if c in summary.columns)
        if present:  # schema 2: parse the statistics like the other numbers (empty = NaN)
            summary = _numeric(summary_csv, summary, present)
        summary = with_summary_stats(summary)
        _verify_summary(summary_csv, summary, aggregate(results))
    else:
        summary = aggregate(results)
    throughput = None
    tp_csv = path / THROUGHPUT_CSV
    if tp_csv.is_file():
        throughput = _read_throughput(tp_csv)
    return RunData(path=path, meta=meta, results=results, summary=summary, throughput=throughput,
                   record=RunRecord.from_json(meta, run_id=path.name))


def _verify_summary(path: Path, summary: pd.DataFrame, recomputed: pd.DataFrame) -> None:
    """summary.csv must be the mean of results.csv: the readers (check, table, report) never trust one file
    over the other. A difference (an edited or damaged file) is a RunDirError naming both and the first key."""
    def means(frame: pd.DataFrame) -> dict[tuple[str, str, int, str], tuple[float, int]]:
        return {(str(r.model), str(r.dataset), int(r.scale), str(r.metric)): (float(r.value), int(r.n_images))
                for r in frame.itertuples(index=False)}

    got, want = means(summary), means(recomputed)
    for key in sorted(set(got) | set(want)):
        a, b = got.get(key), want.get(key)
        same = a is not None and b is not None and a[1] == b[1] and (
            a[0] == b[0] or math.isclose(a[0], b[0], rel_tol=1e-12, abs_tol=1e-12)
            or (math.isnan(a[0]) and math.isnan(b[0])))
        if not same:
            say = lambda v: "absent" if v is None else f"{v[0]!r} over {v[1]} images"  # noqa: E731
            raise RunDirError(f"{path}: disagrees with {RESULTS_CSV} for {'/'.join(map(str, key))} "
                              f"(summary {say(a)}, results {say(b)}): the run directory was edited or is damaged; "
                              "its numbers are not used")


RunLike: TypeAlias = "str | os.PathLike[str] | RunData | pd.DataFrame"


def as_run_data(run: RunLike, *, name: str = "in-memory", meta: dict[str, Any] | None = None) -> RunData:
    """A run from a run directory (path), a loaded :class:`RunData` (returned as is), or in memory: a tidy
    DataFrame of per-image results (``results.csv`` columns) or of a summary (``summary.csv`` columns).

    An in-memory run has no run.json: ``meta`` stands for it (run.json's content). Without ``meta`` the
    numbers are taken to follow srbench's default protocol (``srbench run``'s: MATLAB LR, Y channel, crop =
    scale; no LPIPS settings), metric directions come from srbench's table, and ``run_id`` is ``name``.
    Raises RunDirError naming the missing columns.
    """
    import pandas as pd

    if isinstance(run, RunData):
        return run
    if not isinstance(run, pd.DataFrame):
        return load_run_dir(run)
    cols = set(run.columns)
    if meta is None:
        default = RunConfig()
        meta = {"protocol": protocol(default, {}), "config": default.to_json()}
    meta = {"run_id": name, **meta}
    if set(RESULT_COLUMNS) <= cols:
        results = run[list(RESULT_COLUMNS)].copy()
        return RunData(path=Path(name), meta=meta, results=results, summary=aggregate(results),
                       throughput=None)
    need = set(SUMMARY_COLUMNS) - {"n_images"}
    if need <= cols:
        summary = run.copy()
        if "n_images" not in cols:
            summary["n_images"] = 0
        summary = with_summary_stats(summary[[c for c in SUMMARY_CSV_COLUMNS if c in summary.columns]].copy())
        summary["n_images"] = summary["n_images"].astype(int)
        empty = pd.DataFrame(columns=list(RESULT_COLUMNS))
        return RunData(path=Path(name), meta=meta, results=empty, summary=summary, throughput=None)
    raise RunDirError(f"{name}: a DataFrame run needs the columns of results.csv ({', '.join(RESULT_COLUMNS)}) "
                      f"or of summary.csv ({', '.join(SUMMARY_COLUMNS)}); it has {', '.join(map(str, run.columns))}")


def load_results(run_dir: str | os.PathLike[str], *, summary: bool = False) -> pd.DataFrame:
    """The tidy rows of a run as a pandas DataFrame (``summary=True``: the per-dataset means).

    Columns: ``model, dataset, scale, image, metric, value`` (results) or ``model, dataset, scale,
    metric, value, n_images`` (summary), plus ``run_id``. Read by the same validated reader as the report.
    """
    run = load_run_dir(run_dir)
    df = (run.summary if summary else run.results).copy()
    df["run_id"] = run.run_id
    return df
