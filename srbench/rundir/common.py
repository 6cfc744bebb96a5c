"""File names, schema versions, statuses and errors of the run directory."""

from __future__ import annotations

import errno
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from srbench.config import RunConfig
from srbench.files import safe_name
from srbench.interfaces import SRBenchError
from srbench.metrics.table import fallback_records

RUN_JSON = "run.json"
RESULTS_CSV = "results.csv"
SUMMARY_CSV = "summary.csv"
THROUGHPUT_CSV = "throughput.csv"
LOCK_FILE = ".srbench.lock"

SUPPORTED_SCHEMA_VERSIONS = (1, 2)  # 1: summary.csv without the statistics columns
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


def new_run_id(config: RunConfig) -> str:
    """``20261204-201500-bicubic-srresnet``: a run directory's default name (UTC time + models)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{safe_name('-'.join(config.models))[:40]}"


def image_path(dataset: str, scale: int, who: str, image: str) -> str:
    """Relative path of a saved comparison image inside the run directory."""
    return f"images/{safe_name(dataset)}/x{scale}/{safe_name(who)}/{safe_name(image)}.png"
