"""The run directory, in one package: its schema (docs/schema.md), its one writer, its one reader and its
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

# One job a module: names and errors (common), the CSV files and the aggregation (csvfiles), run.json
# (record), the lock (lock), DataFrame readers (frames). Every public name is importable from here.
from srbench.files import escape_text, safe_name, unescape_text  # noqa: F401
from srbench.rundir.common import (  # noqa: F401
    FALLBACK_METRICS,
    LOCK_FILE,
    RESULTS_CSV,
    RUN_JSON,
    STATUSES,
    SUMMARY_CSV,
    SUPPORTED_SCHEMA_VERSIONS,
    THROUGHPUT_CSV,
    RunDirError,
    RunDirInUse,
    image_path,
    new_run_id,
    write_error,
)
from srbench.rundir.csvfiles import (  # noqa: F401
    ResultsWriter,
    SummaryRow,
    completed,
    csv_number,
    infinity_notes,
    read_rows,
    repair_results,
    resumable_rows,
    rewrite_results,
    summarise,
    write_summary,
)
from srbench.rundir.frames import (  # noqa: F401
    RunData,
    RunLike,
    aggregate,
    as_run_data,
    load_results,
    load_run_dir,
    summary_frame,
)
from srbench.rundir.lock import (  # noqa: F401
    RunLock,
)
from srbench.rundir.record import (  # noqa: F401
    Comparison,
    DatasetRecord,
    ErrorRecord,
    MetricRecord,
    ModelRecord,
    RunRecord,
    add_comparison,
    load_record,
    new_record,
    read_run_json,
    resumed_record,
    write_run_json,
)

__all__ = [
    "add_comparison",
    "resumable_rows",
    "safe_name",
    "resumed_record",
    "new_record",
    "new_run_id",
    "image_path",
    "Comparison",
    "DatasetRecord",
    "ErrorRecord",
    "FALLBACK_METRICS",
    "LOCK_FILE",
    "MetricRecord",
    "ModelRecord",
    "RESULTS_CSV",
    "RUN_JSON",
    "ResultsWriter",
    "RunData",
    "RunDirError",
    "RunDirInUse",
    "RunLike",
    "RunLock",
    "RunRecord",
    "STATUSES",
    "SUMMARY_CSV",
    "SUPPORTED_SCHEMA_VERSIONS",
    "SummaryRow",
    "THROUGHPUT_CSV",
    "aggregate",
    "as_run_data",
    "completed",
    "csv_number",
    "escape_text",
    "infinity_notes",
    "load_record",
    "load_results",
    "load_run_dir",
    "read_rows",
    "read_run_json",
    "repair_results",
    "rewrite_results",
    "summarise",
    "summary_frame",
    "unescape_text",
    "write_error",
    "write_run_json",
    "write_summary",
]
