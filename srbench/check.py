"""CI quality-regression checks: bless a run as a baseline, then compare later runs against it.

``save_baseline(run_dir, out)`` writes a JSON baseline (schema in docs/schema.md): the summary values, the
protocol they were computed under, the metric metadata and the tolerances. ``check(run_dir, baseline)``
compares per (model, dataset, scale, metric) and returns a ``CheckResult`` whose ``status`` is the exit
code of ``srbench check``:

- 0 pass: every baseline value is matched within tolerance (improvements pass and are reported);
- 1 regression: at least one value is *worse* than the baseline by more than its tolerance, in the
  metric's own direction (PSNR/SSIM lower, LPIPS higher);
- 2 cannot compare: the protocol differs (crop, colour space, LR source/method, modcrop, quantisation,
  LPIPS net/version, metric versions, dataset content) -- then no value is compared at all -- or, with
  no regression found, a baseline entry is missing from the run or was computed on a different number
  of images.

Default tolerances (metric units, from the metric table): PSNR 0.05 dB, SSIM 0.001, LPIPS 0.005, NIQE 0.01;
precedence: the ``tolerances`` argument (the CLI's ``--tolerance psnr=0.1``), then the baseline file's, then
the run's metric ``default_tolerance``, then ``DEFAULT_TOLERANCES``; a metric with none of these gets 0.
Directions come from the metric metadata (lower is better for LPIPS and NIQE).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from srbench.files import atomic_write_text, safe_name
from srbench.interfaces import SRBenchError
from srbench.markup import md_escape
from srbench.metrics.table import default_tolerances
from srbench.protocol import LPIPS_KEYS, PROTOCOL_KEYS, Protocol  # noqa: F401  (names check exported before)
from srbench.rundir import RunData, RunLike, as_run_data, load_run_dir

BASELINE_SCHEMA_VERSION = 1
BASELINE_KIND = "srbench-baseline"
DEFAULT_TOLERANCES: dict[str, float] = default_tolerances()  # from the metric table

PASS, REGRESSION, CANNOT_COMPARE = 0, 1, 2

# Protocol fields whose difference makes numbers incomparable: srbench.protocol (PROTOCOL_KEYS, LPIPS_KEYS).

# Rows statuses. "ok"/"improved"/"new" pass; "regression" fails (1); the others cannot compare (2).
ROW_FAILING = {"regression"}
ROW_INCOMPARABLE = {"missing", "n_images", "protocol"}


class BaselineError(SRBenchError):
    """A baseline file is missing, unreadable or of an unknown schema; the message names the file."""


@dataclass(frozen=True)
class CheckRow:
    """One comparison: ``delta = current - baseline`` in the metric's unit."""

    model: str
    dataset: str
    scale: int
    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    tolerance: float
    status: str  # ok | improved | regression | missing | new | n_images | protocol
    note: str = ""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of ``check``: ``status`` (0/1/2), the diff rows and the protocol mismatches."""

    status: int
    rows: list[CheckRow]
    mismatches: list[str] = field(default_factory=list)  # "protocol.colour: baseline 'y-matlab', run 'rgb'"
    run_dir: str = ""
    baseline: str = ""

    @property
    def verdict(self) -> str:
        return {PASS: "PASS", REGRESSION: "REGRESSION", CANNOT_COMPARE: "CANNOT COMPARE"}[self.status]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def headline(self) -> str:
        c = self.counts()
        parts = [f"{n} {s}" for s, n in sorted(c.items())]
        return f"srbench check: {self.verdict} (exit {self.status}); " + (", ".join(parts) or "nothing compared")

    def _table(self) -> tuple[list[str], list[list[str]]]:
        head = ["model", "dataset", "scale", "metric", "baseline", "current", "delta", "tolerance", "status"]
        body = [[r.model, r.dataset, f"x{r.scale}", r.metric, _num(r.baseline), _num(r.current),
                 _num(r.delta, signed=True), _num(r.tolerance), r.status + (f" ({r.note})" if r.note else "")]
                for r in self.rows]
        return head, body

    def to_text(self) -> str:
        """A fixed-width diff table for terminals and CI logs."""
        lines = [self.headline()]
        lines += [f"  protocol mismatch: {m}" for m in self.mismatches]
        head, body = self._table()
        if body:
            widths = [max(len(head[i]), *(len(row[i]) for row in body)) for i in range(len(head))]
            right = {4, 5, 6, 7}
            fmt = lambda row: "  ".join(c.rjust(w) if i in right else c.ljust(w)  # noqa: E731
                                        for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            lines += [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        """A Markdown summary (for a CI job summary or a PR comment): verdict, mismatches, the rows that
        did not pass first, then the full table in a collapsible block."""
        icon = {PASS: "\u2705", REGRESSION: "\u274c", CANNOT_COMPARE: "\u26a0\ufe0f"}[self.status]
        out = [f"### {icon} srbench check: {self.verdict} (exit {self.status})", ""]
        c = self.counts()
        out.append(", ".join(f"{n} {s}" for s, n in sorted(c.items())) or "nothing compared")
        out.append("")
        if self.mismatches:
            out.append("**Protocol mismatch** (no value compared):")
            out += [f"- {md_escape(m)}" for m in self.mismatches]
            out.append("")
        head, body = self._table()

        def table(rows: list[list[str]]) -> list[str]:
            t = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if 4 <= i <= 7 else ":---" for i in range(len(head))) + "|"]
            return t + ["| " + " | ".join(md_escape(x) for x in r) + " |" for r in rows]

        bad = [b for b, r in zip(body, self.rows, strict=True) if r.status not in ("ok", "improved", "new")]
        if bad:
            out += ["**Not passing:**", ""] + table(bad) + [""]
        if body:
            out += ["<details><summary>All comparisons</summary>", ""] + table(body) + ["", "</details>"]
        return "\n".join(out) + "\n"

    def to_junit_xml(self) -> str:
        """JUnit XML: one testcase per comparison (classname ``srbench.<dataset>.x<scale>.<model>``, name =
        metric), <failure> for a regression, <error> for cannot-compare, <skipped> for new entries; a
        protocol mismatch is an extra erroring testcase ``srbench.protocol``."""
        suite = ET.Element("testsuite", name="srbench-check")
        n_fail = n_err = n_skip = 0
        if self.mismatches:
            tc = ET.SubElement(suite, "testcase", classname="srbench.protocol", name="protocol")
            e = ET.SubElement(tc, "error", message="protocol mismatch", type="protocol")
            e.text = "\n".join(self.mismatches)
            n_err += 1
        for r in self.rows:
            tc = ET.SubElement(suite, "testcase", classname=f"srbench.{r.dataset}.x{r.scale}.{r.model}", name=r.metric)
            detail = (f"baseline {_num(r.baseline)}, current {_num(r.current)}, delta {_num(r.delta, signed=True)}, "
                      f"tolerance {_num(r.tolerance)}" + (f"; {r.note}" if r.note else ""))
            if r.status in ROW_FAILING:
                ET.SubElement(tc, "failure", message=f"{r.metric} regressed", type="regression").text = detail
                n_fail += 1
            elif r.status in ROW_INCOMPARABLE:
                ET.SubElement(tc, "error", message=f"cannot compare: {r.status}", type=r.status).text = detail
                n_err += 1
            elif r.status == "new":
                ET.SubElement(tc, "skipped", message="not in the baseline")
                n_skip += 1
            else:
                ET.SubElement(tc, "system-out").text = f"{r.status}: {detail}"
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(n_fail))
        suite.set("errors", str(n_err))
        suite.set("skipped", str(n_skip))
        ET.indent(suite)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _num(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return ("+inf" if signed else "inf") if v > 0 else "-inf"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


# ------------------------------------------------------------------------------------------- baselines


def protocol_of(run: RunData) -> dict[str, Any]:
    """What must match between a baseline and a run for their numbers to be comparable."""
    return run.record.comparable_protocol().comparable()


def save_baseline(run_dir: Path, out: Path, *, tolerances: dict[str, float] | None = None) -> Path:
    """Bless ``run_dir``: write its summary, protocol, metric metadata and tolerances to ``out`` (JSON).

    Tolerances stored: ``tolerances`` over the run's metric ``default_tolerance`` over DEFAULT_TOLERANCES.
    Raises BaselineError when the run is not complete (a partial run is no baseline).
    """
    run = load_run_dir(run_dir)
    status = run.record.status if run.record.status != "unknown" else "complete"  # hand-made: no status
    if status != "complete":
        raise BaselineError(f"{run.path}: run status is {status!r}; only a complete run can be a baseline")
    metrics = run.metrics()
    tol = {m: _default_tolerance(run, m) for m in metrics}
    tol.update(_validated(tolerances, "save_baseline"))
    datasets = {}
    for name, info in run.record.datasets.items():
        datasets[name] = {"n_images": info.n_images, "hr_pixel_sha256": dict(info.hr_pixel_sha256)}
    doc = {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "kind": BASELINE_KIND,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_run": {"run_id": run.run_id, "created": run.record.created, "git_sha": run.record.git_sha,
                       "srbench_version": run.record.srbench_version, "command": run.record.command,
                       "device_name": run.record.environment.get("device_name")},
        "protocol": protocol_of(run),
        "metrics": {m: {k: v for k, v in run.metric_meta(m).items() if k in ("higher_is_better", "unit", "version")}
                    for m in metrics},
        "tolerances": tol,
        "datasets": datasets,
        "values": [{"model": r.model, "dataset": r.dataset, "scale": int(r.scale), "metric": r.metric,
                    "value": _json_float(float(r.value)), "n_images": int(r.n_images)}
                   for r in run.summary.itertuples(index=False)],
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _json_float(v: float) -> float | str:
    # JSON has no inf/nan: store them as strings ("inf" = PSNR of identical images).
    return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def _from_json_float(v: Any) -> float:
    return float(v)  # float("inf") and float("nan") parse the strings written above


def load_baseline(path: Path | dict[str, Any]) -> dict[str, Any]:
    """Read and validate a baseline file written by ``save_baseline`` (or validate its content, a dict
    already in memory)."""
    if isinstance(path, dict):
        doc: Any = path
        path = Path("<baseline in memory>")
    else:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BaselineError(f"{path}: baseline file not found (write one with `srbench baseline save`)") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise BaselineError(f"{path}: unreadable baseline ({exc})") from None
    if not isinstance(doc, dict) or doc.get("kind") != BASELINE_KIND:
        raise BaselineError(f"{path}: not an srbench baseline (missing \"kind\": \"{BASELINE_KIND}\")")
    if doc.get("schema_version") != BASELINE_SCHEMA_VERSION:
        raise BaselineError(f"{path}: baseline schema_version {doc.get('schema_version')!r} is not supported "
                            f"(this srbench reads {BASELINE_SCHEMA_VERSION})")
    for key in ("protocol", "values", "tolerances", "metrics"):
        if key not in doc:
            raise BaselineError(f"{path}: missing key {key!r}")
    return doc


def _validated(tolerances: dict[str, float] | None, where: str) -> dict[str, float]:
    out = {}
    for k, v in (tolerances or {}).items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: tolerance for {k!r} must be a number, got {v!r}") from None
        if not math.isfinite(f) or f < 0:
            raise ValueError(f"{where}: tolerance for {k!r} must be finite and >= 0, got {v!r}")
        out[str(k).lower()] = f
    return out


def _default_tolerance(run: RunData, metric: str) -> float:
    meta = run.record.metrics.get(metric)
    if meta is not None and meta.default_tolerance is not None:
        return float(meta.default_tolerance)
    return float(DEFAULT_TOLERANCES.get(metric, 0.0))


# ---------------------------------------------------------------------------------------------- check


def _protocol_mismatches(base: dict[str, Any], run: RunData, doc: dict[str, Any]) -> list[str]:
    cur = protocol_of(run)
    out = []
    # LPIPS settings matter only when both sides have LPIPS values (a run without them: rows "missing")
    uses_lpips = (any(v.get("metric") == "lpips" for v in doc["values"])
                  and "lpips" in set(run.summary["metric"]))
    for key in (*PROTOCOL_KEYS, "lr_source", "lpips"):
        if key == "lpips" and not uses_lpips:
            continue
        b, c = base.get(key), cur.get(key)
        if b != c:
            out.append(f"protocol.{key}: baseline {b!r}, run {c!r}")
    for metric, meta in doc["metrics"].items():
        cm = run.metric_meta(metric)
        for k in ("higher_is_better", "version"):
            if k in meta and metric in set(run.summary["metric"]) and str(cm.get(k)) != str(meta[k]):
                out.append(f"metrics.{metric}.{k}: baseline {meta[k]!r}, run {cm.get(k)!r}")
    run_ds = run.record.datasets
    for name, info in (doc.get("datasets") or {}).items():
        bh = (info or {}).get("hr_pixel_sha256") or {}
        ch = run_ds[name].hr_pixel_sha256 if name in run_ds else {}
        changed = sorted(k for k in set(bh) & set(ch) if bh[k] != ch[k])
        if changed:
            out.append(f"datasets.{name}: HR pixels differ for {', '.join(changed[:5])}"
                       + (f" and {len(changed) - 5} more" if len(changed) > 5 else ""))
    return out


def check(run_dir: RunLike, baseline: Path | dict[str, Any], *,
          tolerances: dict[str, float] | None = None) -> CheckResult:
    """Compare a run with a baseline (see the module docstring for the exit codes). ``tolerances``
    overrides per metric, e.g. {"psnr": 0.1}.

    The run is a run directory, a loaded RunData or a DataFrame in memory (see
    :func:`srbench.rundir.as_run_data`); the baseline a file or its content as a dict, so a Python
    user can gate without files."""
    doc = load_baseline(baseline)
    run = as_run_data(run_dir)
    mismatches = _protocol_mismatches(doc["protocol"], run, doc)
    tol = {m: _default_tolerance(run, m) for m in doc["metrics"]}
    tol.update(_validated(doc["tolerances"], str(baseline)))
    tol.update(_validated(tolerances, "check"))
    directions = {m: bool(meta.get("higher_is_better", True)) for m, meta in doc["metrics"].items()}
    current = {(r.model, r.dataset, int(r.scale), r.metric): (float(r.value), int(r.n_images))
               for r in run.summary.itertuples(index=False)}
    rows: list[CheckRow] = []
    seen = set()
    for v in doc["values"]:
        key = (str(v["model"]), str(v["dataset"]), int(v["scale"]), str(v["metric"]))
        seen.add(key)
        b = _from_json_float(v["value"])
        t = tol.get(key[3], 0.0)
        if key not in current:
            rows.append(CheckRow(*key, b, None, None, t, "missing", "not in the run"))
            continue
        c, n = current[key]
        delta = c - b if not (math.isinf(c) and math.isinf(b) and c == b) else 0.0
        if mismatches:
            rows.append(CheckRow(*key, b, c, delta, t, "protocol"))
            continue
        if v.get("n_images") is not None and int(v["n_images"]) != n:
            rows.append(CheckRow(*key, b, c, delta, t, "n_images", f"{n} images, baseline {v['n_images']}"))
            continue
        rows.append(CheckRow(*key, b, c, delta, t, *_judge(b, c, delta, t, directions.get(key[3], True))))
    for key, (c, _n) in current.items():
        if key not in seen:
            rows.append(CheckRow(*key, None, c, None, tol.get(key[3], 0.0), "new", "not in the baseline"))
    statuses = {r.status for r in rows}
    if mismatches:
        status = CANNOT_COMPARE
    elif statuses & ROW_FAILING:
        status = REGRESSION
    elif statuses & ROW_INCOMPARABLE or not any(r.status in ("ok", "improved") for r in rows):
        status = CANNOT_COMPARE
    else:
        status = PASS
    return CheckResult(status=status, rows=rows, mismatches=mismatches, run_dir=str(run_dir), baseline=str(baseline))


def _judge(b: float, c: float, delta: float, tol: float, higher_is_better: bool) -> tuple[str, str]:
    if math.isnan(c):
        return "regression", "current value is NaN"
    if math.isnan(b):
        return "missing", "baseline value is NaN"
    worsening = -delta if higher_is_better else delta  # > 0 means worse
    # A 1e-12 slack absorbs float noise from CSV round trips; tolerances are far larger.
    if worsening > tol + 1e-12:
        return "regression", ""
    if -worsening > tol + 1e-12:
        return "improved", ""
    return "ok", ""


def default_baseline_path(run_dir: Path, root: Path = Path("baselines")) -> Path:
    """Where ``srbench run --bless`` puts a run's baseline: ``baselines/<models>_<datasets>_x<scales>.json``
    (stable across runs of the same configuration, so re-blessing overwrites and shows up in the diff)."""
    cfg = load_run_dir(run_dir).record.config
    def part(xs: list[Any]) -> str:
        return "-".join(safe_name(str(x)) for x in xs)

    name = f"{part(cfg.get('models') or ['run'])}_{part(cfg.get('datasets') or ['data'])}_x{part(cfg.get('scales') or ['?'])}"
    return Path(root) / f"{name}.json"
