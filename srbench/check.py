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

``paired=True`` (``srbench check --paired``) also asks whether a difference is real: per (model, dataset,
scale, metric) the 95 % paired bootstrap interval of ``current - baseline`` over the per-image values of
the run and of the baseline (stored under ``per_image`` by ``save_baseline``), and a regression fails only
when the tolerance is exceeded *and* the interval excludes 0; otherwise its status is ``not-significant``
(passes). Rows are ordered regressions first, then what cannot be compared, then the rest.

Outputs: ``to_text`` (terminals), ``to_markdown`` (job summaries), ``to_junit_xml`` and ``to_github``
(GitHub Actions workflow commands: ``::error`` / ``::warning`` annotations).
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
from srbench.metrics.significance import paired_bootstrap
from srbench.metrics.table import default_tolerances
from srbench.protocol import LPIPS_KEYS, PROTOCOL_KEYS, Protocol  # noqa: F401  (names check exported before)
from srbench.rundir import RunData, RunLike, as_run_data, load_run_dir

BASELINE_SCHEMA_VERSION = 1
BASELINE_KIND = "srbench-baseline"
DEFAULT_TOLERANCES: dict[str, float] = default_tolerances()  # from the metric table

PASS, REGRESSION, CANNOT_COMPARE = 0, 1, 2

# Protocol fields whose difference makes numbers incomparable: srbench.protocol (PROTOCOL_KEYS, LPIPS_KEYS).

# Rows statuses. "ok"/"improved"/"not-significant"/"new" pass; "regression" fails (1); the others cannot
# compare (2). "not-significant" (--paired only): worse by more than the tolerance, interval spans 0.
ROW_FAILING = {"regression"}
ROW_INCOMPARABLE = {"missing", "n_images", "protocol"}
ROW_PASSING = {"ok", "improved", "not-significant", "new"}
_ORDER = {"regression": 0, "protocol": 1, "missing": 1, "n_images": 1, "not-significant": 2, "improved": 3,
          "ok": 4, "new": 5}  # the listing order in every format: regressions first


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
    status: str  # ok | improved | not-significant | regression | missing | new | n_images | protocol
    note: str = ""
    ci_low: float | None = None  # --paired: 95 % paired bootstrap interval of delta (per-image pairs)
    ci_high: float | None = None


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

    @property
    def paired(self) -> bool:
        return any(r.ci_low is not None for r in self.rows)

    def _table(self) -> tuple[list[str], list[list[str]]]:
        head = ["model", "dataset", "scale", "metric", "baseline", "current", "delta", "tolerance", "status"]
        body = [[r.model, r.dataset, f"x{r.scale}", r.metric, _num(r.baseline), _num(r.current),
                 _num(r.delta, signed=True), _num(r.tolerance), r.status + (f" ({r.note})" if r.note else "")]
                for r in self.rows]
        if self.paired:
            head.insert(7, "95% CI")
            for row, r in zip(body, self.rows, strict=True):
                row.insert(7, _interval(r.ci_low, r.ci_high))
        return head, body

    def to_github(self, file: str | None = None) -> str:
        """GitHub Actions workflow commands, one line per row that did not pass plainly: ``::error`` for a
        regression or a protocol mismatch, ``::warning`` for what cannot be compared (missing, a different
        image count) and for differences beyond the tolerance that are not significant (``--paired``),
        ``::notice`` for improvements; ``file`` (default: the baseline) is the file annotated. The runner
        turns them into annotations on the run and, for a file in the pull request, on the file."""
        where = _gh_property(file if file is not None else self.baseline)
        out = []
        for m in self.mismatches:
            out.append(f"::error file={where},title={_gh_property('srbench check: protocol mismatch')}::"
                       f"{_gh_data(m)}")
        for r in self.rows:
            level = {"regression": "error", "protocol": "error", "missing": "warning", "n_images": "warning",
                     "not-significant": "warning", "improved": "notice"}.get(r.status)
            if level is None:
                continue
            title = _gh_property(f"srbench {r.status}: {r.model} {r.dataset} x{r.scale} {r.metric}")
            detail = (f"{r.metric} of {r.model} on {r.dataset} x{r.scale}: current {_num(r.current)}, baseline "
                      f"{_num(r.baseline)}, delta {_num(r.delta, signed=True)}, tolerance {_num(r.tolerance)}"
                      + (f", 95% CI {_interval(r.ci_low, r.ci_high)}" if r.ci_low is not None else "")
                      + (f" ({r.note})" if r.note else ""))
            out.append(f"::{level} file={where},title={title}::{_gh_data(detail)}")
        out.append(f"::{'notice' if self.status == PASS else 'error'}::{_gh_data(self.headline())}")
        return "\n".join(out) + "\n"

    def to_text(self) -> str:
        """A fixed-width diff table for terminals and CI logs."""
        lines = [self.headline()]
        lines += [f"  protocol mismatch: {m}" for m in self.mismatches]
        head, body = self._table()
        if body:
            widths = [max(len(head[i]), *(len(row[i]) for row in body)) for i in range(len(head))]
            right = {4, 5, 6, 7} | ({8} if self.paired else set())
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
        right = {4, 5, 6, 7} | ({8} if self.paired else set())

        def table(rows: list[list[str]]) -> list[str]:
            t = ["| " + " | ".join(head) + " |",
                 "|" + "|".join("---:" if i in right else ":---" for i in range(len(head))) + "|"]
            return t + ["| " + " | ".join(md_escape(x) for x in r) + " |" for r in rows]

        bad = [b for b, r in zip(body, self.rows, strict=True) if r.status not in ROW_PASSING]
        if bad:
            out += ["**Not passing:**", ""] + table(bad) + [""]
        ns = [b for b, r in zip(body, self.rows, strict=True) if r.status == "not-significant"]
        if ns:
            out += ["**Worse by more than the tolerance, but not significant (95% CI spans 0):**", ""]
            out += table(ns) + [""]
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
                      f"tolerance {_num(r.tolerance)}"
                      + (f", 95% CI {_interval(r.ci_low, r.ci_high)}" if r.ci_low is not None else "")
                      + (f"; {r.note}" if r.note else ""))
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


def _interval(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return "-"
    return f"[{lo:+.4f}, {hi:+.4f}]"


def _gh_data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped as the runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    """A workflow command's property value (file=, title=): also ':' and ',' escaped."""
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


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
        "per_image": per_image_values(run),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def per_image_values(run: RunData) -> list[dict[str, Any]]:
    """The baseline's optional ``per_image`` key: per (model, dataset, scale, metric) the value of each
    image (``{"model", "dataset", "scale", "metric", "values": {image: value}}``), what ``--paired`` needs."""
    groups: dict[tuple[str, str, int, str], dict[str, float | str]] = {}
    for r in run.results.itertuples(index=False):
        key = (str(r.model), str(r.dataset), int(r.scale), str(r.metric))
        groups.setdefault(key, {})[str(r.image)] = _json_float(float(r.value))
    return [{"model": k[0], "dataset": k[1], "scale": k[2], "metric": k[3], "values": v} for k, v in groups.items()]


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
          tolerances: dict[str, float] | None = None, paired: bool = False) -> CheckResult:
    """Compare a run with a baseline (see the module docstring for the exit codes). ``tolerances``
    overrides per metric, e.g. {"psnr": 0.1}. ``paired``: a regression must also be significant (its
    95 % paired bootstrap interval over the images excludes 0); raises BaselineError when the baseline has
    no per-image values (saved before srbench stored them: save it again) or the run has none.

    The run is a run directory, a loaded RunData or a DataFrame in memory (see
    :func:`srbench.rundir.as_run_data`); the baseline a file or its content as a dict, so a Python
    user can gate without files."""
    doc = load_baseline(baseline)
    run = as_run_data(run_dir)
    base_images = _baseline_images(doc, baseline) if paired else {}
    run_images = _run_images(run, run_dir) if paired else {}
    mismatches = _protocol_mismatches(doc["protocol"], run, doc)
    if run.record.status in ("running", "interrupted", "failed"):
        mismatches.append(f"run status is {run.record.status!r}: the numbers of an unfinished run are not compared")
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
        status, note = _judge(b, c, delta, t, directions.get(key[3], True))
        lo = hi = None
        if paired:
            lo, hi, status, note = _paired_judgement(key, base_images, run_images, status, note,
                                                     directions.get(key[3], True))
        rows.append(CheckRow(*key, b, c, delta, t, status, note, lo, hi))
    for key, (c, _n) in current.items():
        if key not in seen:
            rows.append(CheckRow(*key, None, c, None, tol.get(key[3], 0.0), "new", "not in the baseline"))
    rows.sort(key=lambda r: _ORDER.get(r.status, 9))  # stable: the baseline's order within a status
    statuses = {r.status for r in rows}
    if mismatches:
        status = CANNOT_COMPARE
    elif statuses & ROW_FAILING:
        status = REGRESSION
    elif statuses & ROW_INCOMPARABLE or not any(r.status in ("ok", "improved", "not-significant") for r in rows):
        status = CANNOT_COMPARE
    else:
        status = PASS
    return CheckResult(status=status, rows=rows, mismatches=mismatches, run_dir=str(run_dir), baseline=str(baseline))


Key = tuple[str, str, int, str]


def _baseline_images(doc: dict[str, Any], source: object) -> dict[Key, dict[str, float]]:
    entries = doc.get("per_image")
    if not entries:
        raise BaselineError(f"{source}: the baseline has no per-image values (key \"per_image\"), which "
                            "--paired needs; save it again with `srbench baseline save RUN_DIR` from the run "
                            "it was made from (or check without --paired)")
    try:
        return {(str(e["model"]), str(e["dataset"]), int(e["scale"]), str(e["metric"])):
                {str(k): _from_json_float(v) for k, v in e["values"].items()} for e in entries}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BaselineError(f"{source}: malformed \"per_image\" entry ({exc!r})") from None


def _run_images(run: RunData, source: object) -> dict[Key, dict[str, float]]:
    if run.results.empty:
        raise BaselineError(f"{source}: the run has no per-image results, which --paired needs")
    out: dict[Key, dict[str, float]] = {}
    for r in run.results.itertuples(index=False):
        out.setdefault((str(r.model), str(r.dataset), int(r.scale), str(r.metric)), {})[str(r.image)] = float(r.value)
    return out


def _paired_judgement(key: Key, base: dict[Key, dict[str, float]], cur: dict[Key, dict[str, float]], status: str,
                      note: str, higher_is_better: bool) -> tuple[float, float, str, str]:
    """(ci_low, ci_high, status, note): a tolerance regression whose interval spans 0 is not significant."""
    b, c = base.get(key, {}), cur.get(key, {})
    images = sorted(set(b) & set(c))
    _, lo, hi = paired_bootstrap([c[i] for i in images], [b[i] for i in images])
    if status != "regression" or note:  # NaN current value: stays a regression
        return lo, hi, status, note
    if math.isnan(lo):
        why = "no baseline per-image values" if not b else "no interval (fewer than 2 images or an inf value)"
        return lo, hi, status, why
    worse_for_sure = hi < 0 if higher_is_better else lo > 0
    if worse_for_sure:
        return lo, hi, status, note
    return lo, hi, "not-significant", "the 95% CI spans 0"


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

    name = (f"{part(cfg.get('models') or ['run'])}_{part(cfg.get('datasets') or ['data'])}"
            f"_x{part(cfg.get('scales') or ['?'])}")
    return Path(root) / f"{name}.json"
