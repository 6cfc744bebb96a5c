"""Tidy result rows, aggregation and provenance; the CSV/JSON files of a run directory.

Schema version 1 (see docs/schema.md): ``results.csv`` has one row per (model, dataset, scale, image,
metric); ``summary.csv`` the arithmetic mean over images; ``run.json`` the config, protocol, versions and
hashes. Aggregation happens here and nowhere else.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench.files import atomic_write_text
from srbench.interfaces import RESULT_COLUMNS, RESULTS_SCHEMA_VERSION, SUMMARY_COLUMNS, ResultRow
from srbench.perf.env import environment  # noqa: F401  (run.json's environment: one copy, in srbench.perf.env)

if TYPE_CHECKING:
    import pandas as pd


def csv_number(value: float) -> str:
    """Full precision (repr) so that re-reading gives the same float; ``inf``/``nan`` spelled out."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return "nan"
    return repr(float(value))


class ResultsWriter:
    """Appends rows to ``results.csv`` as they are computed (flushed), so an interrupted run loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        new = not path.exists() or path.stat().st_size == 0
        self._file = path.open("a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(RESULT_COLUMNS)
            self._file.flush()

    def write(self, rows: Iterable[ResultRow]) -> None:
        for r in rows:
            self._csv.writerow([r.model, r.dataset, r.scale, r.image, r.metric, csv_number(r.value)])
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_rows(path: Path) -> list[ResultRow]:
    """Rows of a results.csv; a truncated last line (a killed run) is ignored."""
    rows: list[ResultRow] = []
    if not path.exists():
        return rows
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return rows
        if tuple(header) != RESULT_COLUMNS:
            raise ValueError(f"{path}: unexpected header {header}, expected {list(RESULT_COLUMNS)}")
        for rec in reader:
            if len(rec) != len(RESULT_COLUMNS):
                continue
            try:
                rows.append(ResultRow(rec[0], rec[1], int(rec[2]), rec[3], rec[4], float(rec[5])))
            except ValueError:
                continue
    return rows


def summarise(rows: Iterable[ResultRow]) -> list[dict[str, Any]]:
    """Mean over images per (model, dataset, scale, metric), in first-seen order."""
    groups: dict[tuple[str, str, int, str], list[float]] = {}
    for r in rows:
        groups.setdefault((r.model, r.dataset, r.scale, r.metric), []).append(r.value)
    out = []
    for (model, dataset, scale, metric), values in groups.items():
        out.append(
            {"model": model, "dataset": dataset, "scale": scale, "metric": metric,
             "value": math.fsum(values) / len(values), "n_images": len(values)}
        )
    return out


def write_summary(path: Path, summary: list[dict[str, Any]]) -> None:
    atomic_write_text(
        path,
        _csv_text(SUMMARY_COLUMNS, ([s["model"], s["dataset"], s["scale"], s["metric"], csv_number(s["value"]),
                                     s["n_images"]] for s in summary)),
    )


def _csv_text(header: Iterable[str], records: Iterable[Iterable[Any]]) -> str:
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(header))
    w.writerows(records)
    return buf.getvalue()


def write_run_json(path: Path, run: dict[str, Any]) -> None:
    run = {"schema_version": RESULTS_SCHEMA_VERSION, **run}
    atomic_write_text(path, json.dumps(run, indent=2, sort_keys=False, default=str) + "\n")


def load_run(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run.json of a run directory."""
    path = Path(run_dir) / "run.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not a srbench run directory (no run.json)")
    run = json.loads(path.read_text(encoding="utf-8"))
    if run.get("schema_version") != RESULTS_SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version {run.get('schema_version')} is not {RESULTS_SCHEMA_VERSION}")
    return run


def load_results(run_dir: str | os.PathLike[str], *, summary: bool = False) -> pd.DataFrame:
    """The tidy rows of a run as a pandas DataFrame (``summary=True``: the per-dataset means).

    Columns: ``model, dataset, scale, image, metric, value`` (results) or ``model, dataset, scale,
    metric, value, n_images`` (summary), plus ``run_id``. Read by the same validated reader as the report.
    """
    from srbench.report.rundir import load_run_dir

    run = load_run_dir(run_dir)
    df = (run.summary if summary else run.results).copy()
    df["run_id"] = run.run_id
    return df


def git_sha() -> str | None:
    """Commit of the srbench checkout (``+dirty`` when modified), or None for an installed package."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "") if sha else None
