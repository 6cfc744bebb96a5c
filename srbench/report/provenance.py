"""The report's provenance section and warnings box, rendered for people: booleans as yes/no, numbers with
their units, lists joined, nested mappings as small key/value tables, each warning once, and the
architecture of every model (built-ins from :data:`BUILTIN_ARCHITECTURES`, model files from their adapter's
record)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from srbench.report.format import arrow
from srbench.rundir import ModelRecord, RunData

DASH = "\u2014"

# The architecture behind each built-in model of srbench.registry.BUILTIN (a test keeps the two in step).
BUILTIN_ARCHITECTURES: dict[str, str] = {
    "bicubic": "MATLAB bicubic (imresize, Keys a=-0.5)",
    "srresnet": "SRResNet (Ledig et al. 2017)",
    "srgan": "SRResNet (Ledig et al. 2017), SRGAN-trained",
    "keras-srresnet": "SRResNet (Ledig et al. 2017), Keras",
    "keras-srgan": "SRGAN generator (Ledig et al. 2017), Keras seed code",
    "seed-srgan": "SRGAN generator (Ledig et al. 2017), Keras seed code ported to PyTorch",
}

# Units of config/environment/run values, by key (how a reader should read the bare number).
UNITS: dict[str, str] = {
    "max_pixels": "pixels",
    "throughput_sizes": "px (square LR)",
    "tile": "LR px",
    "tile_overlap": "LR px",
    "crop_box": "HR px (x, y, w, h)",
    "seconds": "s",
    "threads": "threads",
    "cpu_count": "cores",
    "n_compare": "images",
}


def architecture(name: str, record: ModelRecord) -> str:
    """What network ``name`` is: the adapter's own ``architecture`` (model files: spandrel's name, ONNX),
    else the built-in's entry, else a Keras file's format; a dash when nothing says."""
    extra = record.adapter_extra
    if extra.get("architecture"):
        return str(extra["architecture"])
    if name in BUILTIN_ARCHITECTURES:
        return BUILTIN_ARCHITECTURES[name]
    if extra.get("format") and str(extra.get("framework", "")).startswith("tensorflow"):
        return f"Keras model ({extra['format']})"
    return DASH


def _scalar(value: Any, unit: str = "") -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        text = f"{value:,}" if abs(value) >= 10_000 else str(value)
    elif isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.6g}"
    else:
        text = str(value)
        if text == "":
            return DASH
    return f"{text} {unit}" if unit else text


def human(value: Any, key: str = "") -> str | list[tuple[str, str]]:
    """A run.json value as people read it: a string, or (for a non-empty mapping) key/value pairs.

    ``True`` -> "yes", ``None`` -> a dash, ``[4, 8]`` -> "4, 8", ``{}``/``[]`` -> "none", a number with
    its unit from :data:`UNITS`. Mappings nested deeper are flattened to ``key: value`` text.
    """
    unit = UNITS.get(key, "")
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return [(str(k), _flat(v, str(k))) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        text = ", ".join(_flat(v) for v in value)
        return f"{text} {unit}" if unit and all(isinstance(v, (int, float)) for v in value) else text
    return _scalar(value, unit)


def _flat(value: Any, key: str = "") -> str:
    v = human(value, key)
    return v if isinstance(v, str) else "; ".join(f"{k}: {x}" for k, x in v)


def rows(d: Mapping[str, Any]) -> list[tuple[str, str | list[tuple[str, str]]]]:
    """(label, value) rows of a mapping; labels with spaces instead of underscores."""
    return [(str(k).replace("_", " "), human(v, str(k))) for k, v in d.items()]


_WHERE = re.compile(r"^(?P<where>\S+ on \S+ x\d+): (?P<text>.+)$", re.S)


def warning_groups(warnings: Iterable[str]) -> list[dict[str, Any]]:
    """Each distinct warning once, in first-seen order: ``{"text", "where": [...]}``. Warnings that differ
    only in the ``MODEL on DATASET/IMAGE xS:`` they start with (a metric without a value for several
    images) are one entry listing the places."""
    groups: dict[str, dict[str, Any]] = {}
    for w in warnings:
        m = _WHERE.match(w)
        text, where = (m["text"], m["where"]) if m else (w, None)
        g = groups.setdefault(text, {"text": text, "where": []})
        if where is not None and where not in g["where"]:
            g["where"].append(where)
    out = []
    for g in groups.values():
        if len(g["where"]) == 1:  # a single place reads best as the original sentence
            out.append({"text": f"{g['where'][0]}: {g['text']}", "where": []})
        else:
            out.append(g)
    return out


def _lpips(lp: Mapping[str, Any], warned: set[str]) -> str:
    if lp.get("available") is False:
        reason = lp.get("reason") or "no reason recorded"
        return "unavailable (see Warnings)" if reason in warned else f"unavailable: {reason}"
    parts = [f"net {lp.get('net')}", f"version {lp.get('version')}", f"input range {lp.get('range')}"]
    if lp.get("backbone_sha256"):
        parts.append(f"backbone {lp.get('backbone')} (sha256 {lp.get('backbone_sha256')})")
    if lp.get("package_version"):
        parts.append(f"lpips package {lp.get('package_version')}")
    return ", ".join(parts)


def _verified(v: Any) -> str:
    return "yes" if v is True else ("no" if v is False else "not checked (no pinned hashes)")


def _numbers(d: Any) -> dict[str, float]:
    """The numeric entries of a run.json mapping (anything else: none)."""
    return {str(k): float(v) for k, v in d.items() if isinstance(v, (int, float))} if isinstance(d, Mapping) else {}


def _seconds(parts: Mapping[str, float]) -> str:
    """``read and lr 0.12 s, metrics 0.09 s``."""
    return ", ".join(f"{k.replace('_', ' ')} {v:,.2f} s" for k, v in parts.items())


def time_rows(spent: Any, throughput: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """Where the run's time went (run.json ``time``, written by :class:`srbench.pipeline.Spent`, and the timed
    pass's ``throughput.seconds``): the quality pass, each model's own time, the harness's; lenient."""
    out: list[tuple[str, Any]] = []
    if isinstance(spent, Mapping) and isinstance(spent.get("wall_s"), (int, float)):
        wall = float(spent["wall_s"])
        models, harness = _numbers(spent.get("models_s")), _numbers(spent.get("harness_s"))
        share = f" ({100 * sum(models.values()) / wall:.0f} % of it)" if wall > 0 else ""
        out.append(("quality pass", f"{wall:,.1f} s"))
        out.append(("models' own time", f"{sum(models.values()):,.2f} s{share}: {_seconds(models)}"))
        out.append(("harness time", f"{sum(harness.values()):,.2f} s: {_seconds(harness)}"))
        if isinstance(spent.get("workers"), int):
            out.append(("helper threads", str(spent["workers"])))
    if throughput is not None and isinstance(throughput.get("seconds"), (int, float)):
        out.append(("timed pass", f"{float(throughput['seconds']):,.1f} s"))
    return out


def provenance(run: RunData) -> dict[str, Any]:
    """The template's ``provenance`` block."""
    r = run.record
    warned = set(r.warnings)
    protocol = r.protocol.to_json()
    if isinstance(protocol.get("lpips"), Mapping):
        protocol["lpips"] = _lpips(protocol["lpips"], warned)
    models = [{"name": name, "description": info.description or DASH, "weights": info.weights or DASH,
               "sha256": info.weights_sha256 or DASH,
               "params": DASH if info.params is None else f"{info.params:,}", "demo": info.demo,
               "architecture": architecture(name, info),
               "details": [(k.replace("_", " "), _flat(v, k)) for k, v in info.adapter_extra.items()
                           if k != "architecture" and v is not None]}
              for name, info in r.models.items()]
    datasets = [{"name": name, "source": info.source or DASH, "n_images": _scalar(info.n_images),
                 "verified": _verified(info.verified), "hashes": list(info.hr_pixel_sha256.items())}
                for name, info in r.datasets.items()]
    metrics = []
    for name, info in r.metrics.items():
        hib = info.higher_is_better
        metrics.append({"name": name, "direction": f"{arrow(hib)} {'higher' if hib else 'lower'} is better"
                        if hib is not None else "unknown", "unit": info.unit or DASH,
                        "version": _scalar(info.version), "tolerance": _scalar(info.default_tolerance),
                        "description": str(info.extra.get("description") or DASH)})
    run_rows: list[tuple[str, Any]] = [
        ("run id", run.run_id), ("created", _scalar(r.created)), ("status", _scalar(r.status)),
        ("command", _scalar(r.command) if r.command else "library call (no command line)"),
        ("srbench", _scalar(r.srbench_version)), ("git sha", _scalar(r.git_sha)),
        ("schema version", _scalar(r.schema_version))]
    if r.seconds is not None:
        run_rows.append(("wall time", f"{r.seconds:,.1f} s"))
    run_rows += time_rows(r.extra.get("time"), r.throughput)
    return {
        "run": run_rows,
        "environment": rows(r.environment),
        "config": rows(r.config),
        "protocol": rows(protocol),
        "metrics": metrics,
        "models": models,
        "datasets": datasets,
    }
