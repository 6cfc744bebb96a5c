"""results.csv and summary.csv: cell escaping, the appending writer, the tolerant reader and the one
aggregation (arithmetic mean over images, ``math.fsum``; the spread over images and the paired bootstrap
interval of the difference to a reference model, :mod:`srbench.metrics.significance`)."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from srbench.files import atomic_write_text, escape_text, unescape_text
from srbench.interfaces import (
    RESULT_COLUMNS,
    SUMMARY_COLUMNS,
    ResultRow,
)
from srbench.metrics.significance import paired_bootstrap, spread
from srbench.rundir.common import RunDirError, write_error

if TYPE_CHECKING:
    pass

# summary.csv = SUMMARY_COLUMNS (schema 1) + these (schema 2; empty cells where undefined). Readers of a
# schema-1 summary.csv fill them with NaN / "".
SUMMARY_STATS_COLUMNS = ("std", "reference", "delta", "ci_low", "ci_high")
SUMMARY_CSV_COLUMNS = (*SUMMARY_COLUMNS, *SUMMARY_STATS_COLUMNS)
DEFAULT_REFERENCE = "bicubic"  # the reference model of the deltas, when the run has it

# ------------------------------------------------------------------------------------------------ cells

def csv_number(value: float) -> str:
    """Full precision (repr) so that re-reading gives the same float; ``inf``/``nan`` spelled out."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return "nan"
    return repr(float(value))


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
            raise write_error(self.path, exc) from None

    def write(self, rows: Iterable[ResultRow]) -> None:
        """Append ``rows``; raises RunDirError naming the file when the disk is full or unwritable."""
        try:
            for r in rows:
                self._csv.writerow(_row_cells(r))
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise write_error(self.path, exc) from None

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
        raise write_error(Path(path), exc) from None


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
    std: float = math.nan  # sample standard deviation over the images (ddof=1)
    reference: str | None = None  # the model the delta is to (None: no reference in this group)
    delta: float = math.nan  # mean over the paired images of (this model - reference)
    ci_low: float = math.nan  # 95 % paired bootstrap interval of delta
    ci_high: float = math.nan


def summarise(rows: Iterable[ResultRow], reference: str | None = DEFAULT_REFERENCE) -> list[SummaryRow]:
    """Mean over images per (model, dataset, scale, metric), in first-seen order. The only aggregation.

    The protocol's dataset figure is the arithmetic mean, so one infinite PSNR makes it ``inf`` (the
    published tables print ``inf`` for HR); such rows carry ``n_infinite`` and the ``finite_mean``, and
    :func:`infinity_notes` turns them into the warnings a run records and prints.

    Each row also carries the spread over images (``std``) and, when ``reference`` (default ``bicubic``)
    has values for the same (dataset, scale, metric), the mean per-image difference to it over the images
    both have (``delta``) with its 95 % paired bootstrap interval (``ci_low``, ``ci_high``; seeded, so
    the same rows give the same summary). The reference's own rows and groups without it leave those empty.
    """
    groups: dict[tuple[str, str, int, str], dict[str, float]] = {}
    lists: dict[tuple[str, str, int, str], list[float]] = {}
    for r in rows:
        key = (r.model, r.dataset, r.scale, r.metric)
        lists.setdefault(key, []).append(r.value)
        groups.setdefault(key, {})[r.image] = r.value
    out = []
    for key, values in lists.items():
        model, dataset, scale, metric = key
        finite = [v for v in values if math.isfinite(v)]
        n_inf = sum(1 for v in values if math.isinf(v))
        finite_mean = (math.fsum(finite) / len(finite) if finite else None) if n_inf else None
        ref_values = groups.get((reference, dataset, scale, metric)) if reference is not None else None
        ref, delta, lo, hi = None, math.nan, math.nan, math.nan
        if ref_values is not None and model != reference:
            mine = groups[key]
            common = sorted(set(mine) & set(ref_values))  # sorted: the interval does not depend on row order
            ref = reference
            delta, lo, hi = paired_bootstrap([mine[i] for i in common], [ref_values[i] for i in common])
        out.append(SummaryRow(model, dataset, scale, metric, _mean(values), len(values), n_inf, finite_mean,
                              spread(values), ref, delta, lo, hi))
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


def _optional_number(value: float | None) -> str:
    """An optional statistic: empty when undefined (NaN/None), else full precision."""
    return "" if value is None or math.isnan(value) else csv_number(value)


def write_summary(path: Path, summary: Iterable[SummaryRow]) -> None:
    """summary.csv (schema 2: docs/schema.md): the means, then std, reference, delta, ci_low, ci_high."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SUMMARY_CSV_COLUMNS)
    for s in summary:
        w.writerow([escape_text(s.model), escape_text(s.dataset), s.scale, escape_text(s.metric),
                    csv_number(s.value), s.n_images, _optional_number(s.std),
                    escape_text(s.reference) if s.reference is not None else "",
                    _optional_number(s.delta), _optional_number(s.ci_low), _optional_number(s.ci_high)])
    try:
        atomic_write_text(path, buf.getvalue())
    except OSError as exc:
        raise write_error(Path(path), exc) from None


def resumable_rows(results: Path, metrics: tuple[str, ...], main: bool,
                   say: Callable[[str], None]) -> list[ResultRow]:
    """The rows a resumed run keeps: a torn last line is cut, and the rows of an image that lacks one of
    ``metrics`` for a model are dropped (that image is computed again for that model)."""
    if main:
        cut = repair_results(results)
        if cut:
            say(f"resume: removed a torn last line ({cut} bytes) from {results}")
    rows = read_rows(results)
    done = completed(rows, metrics)
    kept = [r for r in rows if (r.model, r.dataset, r.scale, r.image) in done]
    if len(kept) != len(rows) and main:
        say(f"resume: {len(rows) - len(kept)} rows of unfinished images dropped from {results}; recomputing them")
        rewrite_results(results, kept)
    return kept
