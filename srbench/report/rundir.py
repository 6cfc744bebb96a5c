"""Read a run directory (results.csv, summary.csv, throughput.csv, run.json) into one typed object.

The format is documented in docs/schema.md (schema version 1). Reports, tables and the regression check
all read runs through :func:`load_run_dir`, so they agree on what a run says. Text columns are read as
strings verbatim (a model called ``NA`` or ``1e3`` stays a string); ``inf`` is a legal PSNR value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from srbench.interfaces import RESULT_COLUMNS, RESULTS_SCHEMA_VERSION, SUMMARY_COLUMNS, SRBenchError
from srbench.metrics.table import fallback_records

SUPPORTED_SCHEMA_VERSIONS = (1,)

# Used only when run.json lacks a metric's metadata (older or hand-made runs). The run's own
# ``metrics`` block always wins: reports derive arrows and "best" from the run, not from this table.
FALLBACK_METRICS: dict[str, dict[str, Any]] = fallback_records()  # derived from the metric table

_TEXT_COLUMNS = {"model": str, "dataset": str, "image": str, "metric": str}


class RunDirError(SRBenchError):
    """A run directory is missing, incomplete or of an unknown schema; the message names the file."""


@dataclass(frozen=True)
class RunData:
    """Everything a run directory holds. DataFrames are tidy (one row per value)."""

    path: Path
    meta: dict[str, Any]  # run.json as written
    results: pd.DataFrame  # model, dataset, scale, image, metric, value (per image)
    summary: pd.DataFrame  # model, dataset, scale, metric, value, n_images (mean over images)
    throughput: pd.DataFrame | None  # throughput.csv, or None when the throughput pass did not run

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id") or self.path.name)

    def metric_meta(self, metric: str) -> dict[str, Any]:
        """Metadata of ``metric``: run.json's entry, else srbench's fallback, else an empty direction."""
        entry = (self.meta.get("metrics") or {}).get(metric)
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
        order = [m for m in (self.meta.get("config") or {}).get("metrics") or [] if m in present]
        return order + sorted(present - set(order))

    def models(self) -> list[str]:
        """Models in the run's configured order, then in order of appearance."""
        seen = list(dict.fromkeys(self.summary["model"])) if len(self.summary) else []
        order = [m for m in (self.meta.get("config") or {}).get("models") or [] if m in seen]
        return order + [m for m in seen if m not in order]


def _read_csv(path: Path, columns: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype={c: t for c, t in _TEXT_COLUMNS.items() if c in columns},
                         keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise RunDirError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    for c in numeric:
        # "inf" is legal (PSNR of identical images); an empty cell or "nan" means not computed.
        try:
            df[c] = [_float(x) for x in df[c]]
        except ValueError as exc:
            raise RunDirError(f"{path}: column {c!r} has a non-numeric value ({exc})") from None
        df[c] = df[c].astype("float64")
    if "scale" in df.columns:
        df["scale"] = df["scale"].astype(int)
    return df


def _float(x: object) -> float:
    if isinstance(x, str):
        x = x.strip()
        return math.nan if x == "" else float(x)  # float() reads inf, -inf, nan, Infinity
    return float(x)  # type: ignore[arg-type]


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """summary.csv from results.csv: arithmetic mean over images (the protocol's dataset figure)."""
    if results.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SUMMARY_COLUMNS})
    g = results.groupby(["model", "dataset", "scale", "metric"], sort=False)["value"]
    out = g.agg(value="mean", n_images="count").reset_index()
    return out[list(SUMMARY_COLUMNS)]


_TP_TEXT = ("model", "dtype", "device", "device_name", "input", "note", "torch", "cuda")


def _read_throughput(path: Path) -> pd.DataFrame:
    """throughput.csv: text columns verbatim; every other column numeric where it parses (empty = NaN)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in df.columns:
        if c in _TP_TEXT:
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


def load_run_dir(run_dir: str | Path) -> RunData:
    """Read ``run_dir``. summary.csv is recomputed from results.csv when absent (interrupted runs).

    Raises RunDirError naming the file when run.json or results.csv is missing or unreadable, or when
    the schema version is not one this srbench understands.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"{path}: not a run directory (no such folder)")
    run_json = path / "run.json"
    if not run_json.is_file():
        raise RunDirError(f"{run_json}: missing; is {path} a folder written by `srbench run`?")
    try:
        meta = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{run_json}: unreadable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise RunDirError(f"{run_json}: expected a JSON object, got {type(meta).__name__}")
    version = meta.get("schema_version", RESULTS_SCHEMA_VERSION)
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise RunDirError(
            f"{run_json}: schema_version {version!r} is not supported by this srbench "
            f"(supported: {', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))})"
        )
    results_csv = path / "results.csv"
    if not results_csv.is_file():
        raise RunDirError(f"{results_csv}: missing")
    results = _read_csv(results_csv, RESULT_COLUMNS, ("value",))
    summary_csv = path / "summary.csv"
    if summary_csv.is_file():
        summary = _read_csv(summary_csv, tuple(SUMMARY_COLUMNS), ("value", "n_images"))
        summary["n_images"] = summary["n_images"].astype(int)
    else:
        summary = aggregate(results)
    throughput = None
    tp_csv = path / "throughput.csv"
    if tp_csv.is_file():
        throughput = _read_throughput(tp_csv)
    return RunData(path=path, meta=meta, results=results, summary=summary, throughput=throughput)


RunLike = str | Path | RunData | pd.DataFrame


def as_run_data(run: RunLike, *, name: str = "in-memory", meta: dict[str, Any] | None = None) -> RunData:
    """A run from a run directory (path), a loaded :class:`RunData` (returned as is), or in memory: a tidy
    DataFrame of per-image results (``results.csv`` columns) or of a summary (``summary.csv`` columns).

    An in-memory run has no run.json: ``meta`` stands for it (run.json's content). Without ``meta`` the
    numbers are taken to follow srbench's default protocol (``srbench run``'s: MATLAB LR, Y channel, crop =
    scale; no LPIPS settings), metric directions come from srbench's table, and ``run_id`` is ``name``.
    Raises RunDirError naming the missing columns.
    """
    if isinstance(run, RunData):
        return run
    if not isinstance(run, pd.DataFrame):
        return load_run_dir(run)
    cols = set(run.columns)
    if meta is None:
        from srbench.evaluate import RunConfig, protocol

        default = RunConfig()
        meta = {"protocol": protocol(default, {}), "config": default.to_json()}
    meta = {"run_id": name, **meta}
    if set(RESULT_COLUMNS) <= cols:
        results = run[list(RESULT_COLUMNS)].copy()
        return RunData(path=Path(name), meta=meta, results=results, summary=aggregate(results), throughput=None)
    need = set(SUMMARY_COLUMNS) - {"n_images"}
    if need <= cols:
        summary = run.copy()
        if "n_images" not in cols:
            summary["n_images"] = 0
        summary = summary[list(SUMMARY_COLUMNS)]
        summary["n_images"] = summary["n_images"].astype(int)
        empty = pd.DataFrame(columns=list(RESULT_COLUMNS))
        return RunData(path=Path(name), meta=meta, results=empty, summary=summary, throughput=None)
    raise RunDirError(f"{name}: a DataFrame run needs the columns of results.csv ({', '.join(RESULT_COLUMNS)}) "
                      f"or of summary.csv ({', '.join(SUMMARY_COLUMNS)}); it has {', '.join(map(str, run.columns))}")
