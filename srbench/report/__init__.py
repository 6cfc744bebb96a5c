"""Outputs people look at: the HTML report and paper tables, read from a run directory through the core's
:mod:`srbench.rundir` (schema in docs/schema.md).

Nothing here imports torch. ``html.write_report`` and ``tables.render_table`` are the entry points;
``load_run_dir`` is re-exported for convenience.
"""

from __future__ import annotations

from srbench.rundir import load_run_dir

__all__ = ["load_run_dir", "render_table", "write_report"]


def __getattr__(name: str):  # lazy: `import srbench.report` stays cheap (no pandas, no matplotlib)
    if name == "write_report":
        from srbench.report.html import write_report  # deferred: it imports pandas

        return write_report
    if name == "render_table":
        from srbench.report.tables import render_table  # deferred: it imports pandas

        return render_table
    if name == "load_run_dir":
        return load_run_dir
    raise AttributeError(f"module 'srbench.report' has no attribute {name!r}")
