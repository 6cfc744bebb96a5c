"""Provenance of a run (git sha, device, environment) and, for compatibility, the run-directory API.

The run directory's files (results.csv, summary.csv, run.json) are written, read and aggregated by
:mod:`srbench.rundir` alone; the names below are re-exported from there so that existing imports
(``srbench.results.load_results``, ``read_rows``, ...) keep working.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from srbench.perf.env import environment  # noqa: F401  (run.json's environment: one copy, in srbench.perf.env)
from srbench.rundir import (  # noqa: F401  (re-exported)
    ResultsWriter,
    csv_number,
    load_results,
    read_rows,
    read_run_json,
    summarise,
    write_run_json,
    write_summary,
)


def load_run(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run.json of a run directory, as written (validated; errors name the file)."""
    return read_run_json(run_dir)


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
