"""File names, schema versions, statuses and errors of the run directory."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from srbench.interfaces import SRBenchError
from srbench.metrics.table import fallback_records

RUN_JSON = "run.json"
RESULTS_CSV = "results.csv"
SUMMARY_CSV = "summary.csv"
THROUGHPUT_CSV = "throughput.csv"
# throughput.csv's text columns (formula-escaped when written, unescaped when read); the rest are numbers
THROUGHPUT_TEXT_COLUMNS = ("model", "dtype", "device", "device_name", "input", "note", "torch", "cuda")
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


def write_error(path: Path, exc: OSError) -> RunDirError:
    """The error for a failed write of ``path``: one sentence naming it (a full disk said as such)."""
    why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return RunDirError(f"{path}: cannot write ({why}); the rows written so far are kept: "
                       "free the space and continue with `srbench run --resume`")
