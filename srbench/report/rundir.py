"""Compatibility: the run-directory reader moved to :mod:`srbench.rundir` (report/ imports the core)."""

from srbench.rundir import (  # noqa: F401  (re-exported)
    FALLBACK_METRICS,
    SUPPORTED_SCHEMA_VERSIONS,
    RunData,
    RunDirError,
    RunLike,
    RunRecord,
    aggregate,
    as_run_data,
    load_run_dir,
)
