"""The run directory, in one module: its schema (docs/schema.md), its one writer, its one reader and its
one aggregation.

A run directory holds ``run.json`` (provenance, protocol, config, metric metadata, errors, status),
``results.csv`` (one row per model x dataset x scale x image x metric, appended as computed),
``summary.csv`` (the mean over images) and, optionally, ``throughput.csv``. Everything that writes or reads
these files goes through here: :class:`ResultsWriter` and :func:`write_summary` / :func:`write_run_json`
write them, :func:`read_rows` / :func:`load_record` / :func:`load_run_dir` read them, and :func:`summarise`
is the aggregation (arithmetic mean over images, ``math.fsum``).

``run.json`` is read into a typed, frozen :class:`RunRecord`. Readers are lenient about what they do not
know (keys are kept in ``RunRecord.extra``) and strict about what they need (a missing or unreadable file is
a :class:`RunDirError` naming it).

Text cells (model, dataset, image, metric) that a spreadsheet would run as a formula (they start with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) are written with a leading ``'``, the OWASP-recommended
neutraliser; a text cell that starts with ``'`` gets one more. The readers here undo it, so ids round-trip.
Numbers (``scale``, ``value``, ``n_images``) are never escaped: ``-0.5`` stays a number.

This module imports neither torch nor pandas at import time (pandas is imported by the DataFrame readers).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from srbench.files import atomic_write_text
from srbench.interfaces import (
    RESULT_COLUMNS,
    RESULTS_SCHEMA_VERSION,
    SUMMARY_COLUMNS,
    ResultRow,
    SRBenchError,
)
from srbench.metrics.table import fallback_records

if TYPE_CHECKING:
    import pandas as pd

RUN_JSON = "run.json"
RESULTS_CSV = "results.csv"
SUMMARY_CSV = "summary.csv"
THROUGHPUT_CSV = "throughput.csv"
LOCK_FILE = ".srbench.lock"

SUPPORTED_SCHEMA_VERSIONS = (1,)
STATUSES = ("running", "complete", "complete-with-errors", "interrupted", "failed")

# Used only when run.json lacks a metric's metadata (older or hand-made runs). The run's own
# ``metrics`` block always wins: reports derive arrows and "best" from the run, not from this table.
FALLBACK_METRICS: dict[str, dict[str, Any]] = fallback_records()  # derived from the metric table


class RunDirError(SRBenchError):
    """A run directory is missing, incomplete, unwritable or of an unknown schema; the message names the file."""


class RunDirInUse(RunDirError):
    """Another srbench process holds the run directory's lock."""


# ------------------------------------------------------------------------------------------------ cells

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_number(value: float) -> str:
    """Full precision (repr) so that re-reading gives the same float; ``inf``/``nan`` spelled out."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return "nan"
    return repr(float(value))


def escape_text(text: str) -> str:
    """A text cell made inert for spreadsheets: a leading ``'`` before ``= + - @``, tab, CR or ``'``."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def unescape_text(text: str) -> str:
    """The inverse of :func:`escape_text`."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def _row_cells(r: ResultRow) -> list[str]:
    return [escape_text(r.model), escape_text(r.dataset), str(int(r.scale)), escape_text(r.image),
            escape_text(r.metric), csv_number(r.value)]


def _parse_row(rec: list[str]) -> ResultRow | None:
    if len(rec) != len(RESULT_COLUMNS):
        return None
    try:
        return ResultRow(unescape_text(rec[0]), unescape_text(rec[1]), int(rec[2]), unescape_text(rec[3]),
                         unescape_text(rec[4]), float(rec[5]))
    except ValueError:
        return None


def _write_error(path: Path, exc: OSError) -> RunDirError:
    why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return RunDirError(f"{path}: cannot write ({why}); the rows written so far are kept: "
                       "free the space and continue with `srbench run --resume`")


# -------------------------------------------------------------------------------------------- results.csv


class ResultsWriter:
    """Appends rows to ``results.csv`` as they are computed (flushed and fsynced), so an interrupted run
    loses nothing. The file gets the permissions of the user's umask (plain ``open``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        new = not self.path.exists() or self.path.stat().st_size == 0
        try:
            self._file = self.path.open("a", newline="", encoding="utf-8")
            self._csv = csv.writer(self._file)
            if new:
                self._csv.writerow(RESULT_COLUMNS)
                self._file.flush()
        except OSError as exc:
            raise _write_error(self.path, exc) from None

    def write(self, rows: Iterable[ResultRow]) -> None:
        """Append ``rows``; raises RunDirError naming the file when the disk is full or unwritable."""
        try:
            for r in rows:
                self._csv.writerow(_row_cells(r))
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise _write_error(self.path, exc) from None

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass  # the failed write was reported already

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _records(text: str) -> Iterator[tuple[list[str] | None, int, bool]]:
    """(record, end offset in characters, ends with a line terminator) for each CSV record of ``text``.

    ``record`` is None when the csv module cannot parse the rest (e.g. a quote left open by a torn write).
    """
    pos = 0

    def lines() -> Iterator[str]:
        nonlocal pos
        for line in io.StringIO(text, newline=""):
            pos += len(line)
            yield line

    reader = csv.reader(lines(), strict=True)
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield None, len(text), False
            return
        # a record ends with "\n" ("\r\n" as written); a lone "\r" at the very end is a cut "\r\n"
        yield rec, pos, text[:pos].endswith("\n") or (text[:pos].endswith("\r") and pos < len(text))


def repair_results(path: Path) -> int:
    """Truncate a torn last record of ``results.csv`` (a write cut by a full disk or a kill); returns the
    number of bytes removed (0 when the file was whole or absent).

    A record is whole when it ends with a line terminator and parses as a result row (six cells, an
    integer scale, a float value); only the trailing records that are not are cut.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    data = path.read_bytes()
    text = data.decode("utf-8", errors="surrogateescape")
    keep = 0
    for i, (rec, end, terminated) in enumerate(_records(text)):
        if rec is None or not terminated:
            break
        if i == 0:
            if tuple(rec) != RESULT_COLUMNS:
                raise RunDirError(f"{path}: unexpected header {rec}, expected {list(RESULT_COLUMNS)}")
        elif _parse_row(rec) is None:
            continue  # a malformed record in the middle is not a torn tail: leave it (readers skip it)
        keep = end
    kept = len(text[:keep].encode("utf-8", errors="surrogateescape"))
    if kept == len(data):
        return 0
    with path.open("r+b") as f:
        f.truncate(kept)
        f.flush()
        os.fsync(f.fileno())
    return len(data) - kept


def read_rows(path: Path) -> list[ResultRow]:
    """Rows of a results.csv; a torn or malformed record (a killed run, a full disk) is skipped."""
    path = Path(path)
    rows: list[ResultRow] = []
    if not path.exists():
        return rows
    text = path.read_bytes().decode("utf-8", errors="replace")
    for i, (rec, _end, _terminated) in enumerate(_records(text)):
        if rec is None:
            break
        if i == 0:
            if tuple(rec) != RESULT_COLUMNS:
                raise RunDirError(f"{path}: unexpected header {rec}, expected {list(RESULT_COLUMNS)}")
            continue
        row = _parse_row(rec)
        if row is not None:
            rows.append(row)
    return rows


def rewrite_results(path: Path, rows: Iterable[ResultRow]) -> None:
    """Replace ``results.csv`` atomically with ``rows`` (resume drops the rows of unfinished images)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(RESULT_COLUMNS)
    for r in rows:
        w.writerow(_row_cells(r))
    try:
        atomic_write_text(path, buf.getvalue(), fsync=True)
    except OSError as exc:
        raise _write_error(Path(path), exc) from None


def completed(rows: Iterable[ResultRow], metrics: Iterable[str]) -> set[tuple[str, str, int, str]]:
    """(model, dataset, scale, image) keys that have a value for every metric in ``metrics``."""
    want = set(metrics)
    have: dict[tuple[str, str, int, str], set[str]] = {}
    for r in rows:
        have.setdefault((r.model, r.dataset, r.scale, r.image), set()).add(r.metric)
    return {k for k, got in have.items() if want <= got}


# ------------------------------------------------------------------------------------------ aggregation


@dataclass(frozen=True)
class SummaryRow:
    """One row of summary.csv: the arithmetic mean of ``metric`` over ``n_images`` images."""

    model: str
    dataset: str
    scale: int
    metric: str
    value: float
    n_images: int
    n_infinite: int = 0  # images whose value is +-inf (PSNR of an SR image identical to HR)
    finite_mean: float | None = None  # mean over the finite values, when some are infinite


def summarise(rows: Iterable[ResultRow]) -> list[SummaryRow]:
    """Mean over images per (model, dataset, scale, metric), in first-seen order. The only aggregation.

    The protocol's dataset figure is the arithmetic mean, so one infinite PSNR makes it ``inf`` (the
    published tables print ``inf`` for HR); such rows carry ``n_infinite`` and the ``finite_mean``, and
    :func:`infinity_notes` turns them into the warnings a run records and prints.
    """
    groups: dict[tuple[str, str, int, str], list[float]] = {}
    for r in rows:
        groups.setdefault((r.model, r.dataset, r.scale, r.metric), []).append(r.value)
    out = []
    for (model, dataset, scale, metric), values in groups.items():
        finite = [v for v in values if math.isfinite(v)]
        n_inf = sum(1 for v in values if math.isinf(v))
        finite_mean = (math.fsum(finite) / len(finite) if finite else None) if n_inf else None
        out.append(SummaryRow(model, dataset, scale, metric, _mean(values), len(values), n_inf, finite_mean))
    return out


def _mean(values: list[float]) -> float:
    try:
        return math.fsum(values) / len(values)
    except ValueError:  # inf and -inf together: no mean
        return math.nan


def infinity_notes(summary: Iterable[SummaryRow]) -> list[str]:
    """One sentence per summary value that an infinite per-image value made infinite."""
    notes = []
    for s in summary:
        if s.n_infinite:
            rest = (f"the mean over the other {s.n_images - s.n_infinite} is {s.finite_mean:.4f}"
                    if s.finite_mean is not None else "no image has a finite value")
            notes.append(f"{s.metric} of {s.model} on {s.dataset} x{s.scale}: {s.n_infinite} of {s.n_images} "
                         f"image(s) are identical to HR ({s.metric} inf), so the mean is {csv_number(s.value)} "
                         f"as the protocol prescribes; {rest}")
    return notes


def write_summary(path: Path, summary: Iterable[SummaryRow]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SUMMARY_COLUMNS)
    for s in summary:
        w.writerow([escape_text(s.model), escape_text(s.dataset), s.scale, escape_text(s.metric),
                    csv_number(s.value), s.n_images])
    try:
        atomic_write_text(path, buf.getvalue())
    except OSError as exc:
        raise _write_error(Path(path), exc) from None


# ------------------------------------------------------------------------------------------- run.json


def _dict(x: Any) -> dict[str, Any]:
    return dict(x) if isinstance(x, Mapping) else {}


def _opt_str(x: Any) -> str | None:
    return None if x is None else str(x)


def _opt_int(x: Any) -> int | None:
    try:
        return None if x is None or isinstance(x, bool) else int(x)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ModelRecord:
    """run.json ``models.<name>``: what the report says about a model."""

    description: str = ""
    weights: str | None = None
    weights_sha256: str | None = None
    params: int | None = None
    demo: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> ModelRecord:
        d = _dict(d)
        known = ("description", "weights", "weights_sha256", "params", "demo")
        return cls(str(d.get("description") or ""), _opt_str(d.get("weights")), _opt_str(d.get("weights_sha256")),
                   _opt_int(d.get("params")), bool(d.get("demo")), {k: v for k, v in d.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "weights": self.weights, "weights_sha256": self.weights_sha256,
                "params": self.params, "demo": self.demo, **self.extra}


@dataclass(frozen=True)
class DatasetRecord:
    """run.json ``datasets.<name>``: where the HR images came from and their decoded-pixel hashes."""

    source: str = ""
    n_images: int | None = None
    verified: bool | None = None
    hr_pixel_sha256: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> DatasetRecord:
        d = _dict(d)
        known = ("source", "n_images", "verified", "hr_pixel_sha256")
        v = d.get("verified")
        return cls(str(d.get("source") or ""), _opt_int(d.get("n_images")), None if v is None else bool(v),
                   {str(k): str(h) for k, h in _dict(d.get("hr_pixel_sha256")).items()},
                   {k: x for k, x in d.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "n_images": self.n_images, "hr_pixel_sha256": dict(self.hr_pixel_sha256),
                "verified": self.verified, **self.extra}


@dataclass(frozen=True)
class MetricRecord:
    """run.json ``metrics.<name>``: direction, unit, version and default tolerance (None = not recorded)."""

    higher_is_better: bool | None = None
    unit: str | None = None
    version: str | None = None
    default_tolerance: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> MetricRecord:
        d = _dict(d)
        known = ("higher_is_better", "unit", "version", "default_tolerance")
        hib, tol = d.get("higher_is_better"), d.get("default_tolerance")
        try:
            tol = None if tol is None else float(tol)
        except (TypeError, ValueError):
            tol = None
        return cls(None if hib is None else bool(hib), _opt_str(d.get("unit")), _opt_str(d.get("version")), tol,
                   {k: v for k, v in d.items() if k not in known})

    def or_else(self, other: MetricRecord) -> MetricRecord:
        """Each field of ``self``, else ``other``'s."""
        pick = lambda a, b: b if a is None else a  # noqa: E731
        return MetricRecord(pick(self.higher_is_better, other.higher_is_better), pick(self.unit, other.unit),
                            pick(self.version, other.version),
                            pick(self.default_tolerance, other.default_tolerance), {**other.extra, **self.extra})

    def to_json(self) -> dict[str, Any]:
        keys = ("higher_is_better", "unit", "version", "default_tolerance")
        return {**{k: getattr(self, k) for k in keys if getattr(self, k) is not None}, **self.extra}


@dataclass(frozen=True)
class Comparison:
    """run.json ``comparisons[]``: an image saved for the report's visual comparison (paths relative)."""

    dataset: str
    scale: int
    image: str
    hr: str | None
    models: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> Comparison | None:
        if not isinstance(d, Mapping):
            return None
        return cls(str(d.get("dataset")), _opt_int(d.get("scale")) or 0, str(d.get("image")),
                   d.get("hr") if isinstance(d.get("hr"), str) else None,
                   {str(k): v for k, v in _dict(d.get("models")).items()})

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "scale": self.scale, "image": self.image, "hr": self.hr,
                "models": dict(self.models)}


@dataclass(frozen=True)
class ErrorRecord:
    """run.json ``errors[]``: what failed, where (``*`` = every model/dataset/image), and why."""

    model: str | None
    dataset: str | None
    scale: int | None
    image: str | None
    error: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> ErrorRecord:
        if not isinstance(d, Mapping):
            return cls(None, None, None, None, str(d))
        known = ("model", "dataset", "scale", "image", "error")
        return cls(_opt_str(d.get("model")), _opt_str(d.get("dataset")), _opt_int(d.get("scale")),
                   _opt_str(d.get("image")), str(d.get("error", "")), {k: v for k, v in d.items() if k not in known})

    @property
    def where(self) -> str:
        return " / ".join(str(v) for v in (self.model, self.dataset, self.scale, self.image) if v is not None)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, "scale": self.scale, "image": self.image,
                "error": self.error, **self.extra}


@dataclass(frozen=True)
class RunRecord:
    """run.json, typed (schema version 1, docs/schema.md). ``config``, ``protocol``, ``environment`` and
    ``throughput`` stay mappings: their keys belong to the code that writes them (RunConfig, the
    protocol record, the environment probe, the timed pass). Unknown top-level keys live in ``extra``."""

    run_id: str
    schema_version: int = RESULTS_SCHEMA_VERSION
    created: str | None = None
    srbench_version: str | None = None
    git_sha: str | None = None
    command: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    protocol: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    models: Mapping[str, ModelRecord] = field(default_factory=dict)
    datasets: Mapping[str, DatasetRecord] = field(default_factory=dict)
    metrics: Mapping[str, MetricRecord] = field(default_factory=dict)
    comparisons: tuple[Comparison, ...] = ()
    errors: tuple[ErrorRecord, ...] = ()
    warnings: tuple[str, ...] = ()
    throughput: Mapping[str, Any] | None = None
    seconds: float | None = None
    status: str = "unknown"
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN = ("schema_version", "run_id", "created", "srbench_version", "git_sha", "command", "config", "protocol",
              "environment", "models", "datasets", "metrics", "comparisons", "errors", "warnings", "throughput",
              "seconds", "status")

    @classmethod
    def from_json(cls, d: Mapping[str, Any], *, run_id: str = "") -> RunRecord:
        """Lenient: a value of the wrong type reads as absent (hand-made or older runs still render)."""
        seconds = d.get("seconds")
        comparisons = (Comparison.from_json(c) for c in d.get("comparisons") or [] if isinstance(c, Mapping))
        return cls(
            run_id=str(d.get("run_id") or run_id),
            schema_version=_opt_int(d.get("schema_version")) or RESULTS_SCHEMA_VERSION,
            created=_opt_str(d.get("created")),
            srbench_version=_opt_str(d.get("srbench_version")),
            git_sha=_opt_str(d.get("git_sha")),
            command=_opt_str(d.get("command")),
            config=_dict(d.get("config")),
            protocol=_dict(d.get("protocol")),
            environment=_dict(d.get("environment")),
            models={str(k): ModelRecord.from_json(v) for k, v in _dict(d.get("models")).items()},
            datasets={str(k): DatasetRecord.from_json(v) for k, v in _dict(d.get("datasets")).items()},
            metrics={str(k): MetricRecord.from_json(v) for k, v in _dict(d.get("metrics")).items()
                     if isinstance(v, Mapping)},
            comparisons=tuple(c for c in comparisons if c is not None),
            errors=tuple(ErrorRecord.from_json(e) for e in d.get("errors") or [] if e is not None),
            warnings=tuple(str(w) for w in d.get("warnings") or []),
            throughput=dict(d["throughput"]) if isinstance(d.get("throughput"), Mapping) else None,
            seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
            status=str(d.get("status") or "unknown"),
            extra={k: v for k, v in d.items() if k not in cls._KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": self.schema_version, "run_id": self.run_id, "created": self.created,
            "srbench_version": self.srbench_version, "git_sha": self.git_sha, "command": self.command,
            "config": dict(self.config), "protocol": dict(self.protocol), "environment": dict(self.environment),
            "models": {k: v.to_json() for k, v in self.models.items()},
            "datasets": {k: v.to_json() for k, v in self.datasets.items()},
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
            "comparisons": [c.to_json() for c in self.comparisons],
            "errors": [e.to_json() for e in self.errors],
            "warnings": list(self.warnings),
            "status": self.status,
        }
        if self.throughput is not None:
            out["throughput"] = dict(self.throughput)
        if self.seconds is not None:
            out["seconds"] = self.seconds
        out.update(self.extra)
        return out

    def metric(self, name: str) -> MetricRecord:
        """Metadata of ``name``: run.json's entry over srbench's fallback; direction None when unknown."""
        fallback = MetricRecord.from_json(FALLBACK_METRICS.get(name))
        entry = self.metrics.get(name)
        return fallback if entry is None else entry.or_else(fallback)

    def config_list(self, key: str) -> list[Any]:
        v = self.config.get(key)
        return list(v) if isinstance(v, (list, tuple)) else []


def write_run_json(path: Path, record: RunRecord | Mapping[str, Any]) -> None:
    """Write run.json atomically (a reader sees the old file or the new one, never half of one)."""
    d = record.to_json() if isinstance(record, RunRecord) else {"schema_version": RESULTS_SCHEMA_VERSION, **record}
    try:
        atomic_write_text(path, json.dumps(d, indent=2, sort_keys=False, default=str) + "\n")
    except OSError as exc:
        raise _write_error(Path(path), exc) from None


def read_run_json(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """run.json of ``run_dir`` as written, validated: RunDirError naming the file when it is missing,
    unreadable, not a JSON object, or of a schema version this srbench does not know."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"{path}: not a run directory (no such folder)")
    run_json = path / RUN_JSON
    if not run_json.is_file():
        raise RunDirError(f"{run_json}: missing; is {path} a folder written by `srbench run`?")
    try:
        meta = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{run_json}: unreadable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise RunDirError(f"{run_json}: expected a JSON object, got {type(meta).__name__}")
    version = meta.get("schema_version", RESULTS_SCHEMA_VERSION)
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise RunDirError(
            f"{run_json}: schema_version {version!r} is not supported by this srbench "
            f"(supported: {', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))})"
        )
    return meta


def load_record(run_dir: str | os.PathLike[str]) -> RunRecord:
    """The typed run.json of ``run_dir`` (see :func:`read_run_json` for the errors)."""
    return RunRecord.from_json(read_run_json(run_dir), run_id=Path(run_dir).name)


# ------------------------------------------------------------------------------------------- the lock


class RunLock:
    """An exclusive lock on a run directory (``fcntl.flock`` on ``.srbench.lock``, which holds the PID).

    The kernel drops a flock when its process dies, so the lock of a killed run never blocks the next
    one. Released (and the file removed) by :meth:`release` or on leaving the ``with`` block.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise RunDirError(f"{self.path}: cannot create the run directory's lock file "
                                  f"({exc.strerror or exc}); is {self.run_dir} writable?") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise RunDirInUse(f"{self.run_dir} is in use by PID {pid} (another `srbench run` or --resume "
                                  "into it); wait for it to finish or choose another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed the file between our open and our flock: retry on the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return self
        raise RunDirInUse(f"{self.run_dir}: could not take the lock {self.path}")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it: see acquire's inode check
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# --------------------------------------------------------------------------------------- DataFrames

_TEXT_COLUMNS = ("model", "dataset", "image", "metric")


@dataclass(frozen=True)
class RunData:
    """Everything a run directory holds. DataFrames are tidy (one row per value)."""

    path: Path
    meta: dict[str, Any]  # run.json as written
    results: pd.DataFrame  # model, dataset, scale, image, metric, value (per image)
    summary: pd.DataFrame  # model, dataset, scale, metric, value, n_images (mean over images)
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
        order = [m for m in self.record.config_list("models") if m in seen]
        return order + [m for m in seen if m not in order]


def _float(x: object) -> float:
    if isinstance(x, str):
        x = x.strip()
        return math.nan if x == "" else float(x)  # float() reads inf, -inf, nan, Infinity
    return float(x)  # type: ignore[arg-type]


def _read_csv(path: Path, columns: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype={c: str for c in _TEXT_COLUMNS if c in columns}, keep_default_na=False)
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
    for c in numeric:
        # "inf" is legal (PSNR of identical images); an empty cell or "nan" means not computed.
        try:
            df[c] = [_float(x) for x in df[c]]
        except ValueError as exc:
            raise RunDirError(f"{path}: column {c!r} has a non-numeric value ({exc})") from None
        df[c] = df[c].astype("float64")
    if "scale" in df.columns:
        try:
            df["scale"] = df["scale"].astype(int)
        except (TypeError, ValueError) as exc:
            raise RunDirError(f"{path}: column 'scale' has a non-integer value ({exc})") from None
    return df


def summary_frame(summary: Iterable[SummaryRow]) -> pd.DataFrame:
    """summary.csv's columns as a DataFrame, from :func:`summarise`'s rows."""
    import pandas as pd

    rows = list(summary)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SUMMARY_COLUMNS})
    df = pd.DataFrame([[s.model, s.dataset, s.scale, s.metric, s.value, s.n_images] for s in rows],
                      columns=list(SUMMARY_COLUMNS))
    df["value"] = df["value"].astype("float64")
    return df


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """summary.csv from a results DataFrame: :func:`summarise` (the one aggregation) on its rows."""
    rows = [ResultRow(str(r.model), str(r.dataset), int(r.scale), str(r.image), str(r.metric), float(r.value))
            for r in results.itertuples(index=False)] if not results.empty else []
    return summary_frame(summarise(rows))


_TP_TEXT = ("model", "dtype", "device", "device_name", "input", "note", "torch", "cuda")


def _read_throughput(path: Path) -> pd.DataFrame:
    """throughput.csv: text columns verbatim; every other column numeric where it parses (empty = NaN)."""
    import pandas as pd

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
    else:
        summary = aggregate(results)
    throughput = None
    tp_csv = path / THROUGHPUT_CSV
    if tp_csv.is_file():
        throughput = _read_throughput(tp_csv)
    return RunData(path=path, meta=meta, results=results, summary=summary, throughput=throughput,
                   record=RunRecord.from_json(meta, run_id=path.name))


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
        from srbench.evaluate import RunConfig, protocol

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
        summary = summary[list(SUMMARY_COLUMNS)]
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
