"""run.json: the typed, frozen :class:`RunRecord` and its reader/writer (errors name the file)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from srbench import __version__  # the package root: its version string only
from srbench.config import RunConfig
from srbench.files import atomic_write_text
from srbench.interfaces import (
    RESULTS_SCHEMA_VERSION,
)
from srbench.metrics.table import METRIC_TABLE
from srbench.perf.env import environment, git_sha
from srbench.protocol import Protocol, protocol
from srbench.rundir.common import (
    FALLBACK_METRICS,
    RUN_JSON,
    SUPPORTED_SCHEMA_VERSIONS,
    RunDirError,
    image_path,
    write_error,
)

# ------------------------------------------------------------------------------------------- run.json


def _dict(x: Any) -> dict[str, Any]:
    return dict(x) if isinstance(x, Mapping) else {}


def _opt_str(x: Any) -> str | None:
    return None if x is None else str(x)


def _opt_int(x: Any) -> int | None:
    try:
        return None if x is None or isinstance(x, bool) else int(x)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ModelRecord:
    """run.json ``models.<name>``: what the report says about a model."""
    description: str = ""
    weights: str | None = None
    weights_sha256: str | None = None
    params: int | None = None
    demo: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> ModelRecord:
        d = _dict(d)
        known = ("description", "weights", "weights_sha256", "params", "demo")
        return cls(str(d.get("description") or ""), _opt_str(d.get("weights")), _opt_str(d.get("weights_sha256")),
                   _opt_int(d.get("params")), bool(d.get("demo")), {k: v for k, v in d.items() if k not in known})

    @property
    def adapter_extra(self) -> Mapping[str, Any]:
        """The adapter's own ``ModelInfo.extra`` (architecture, tiling, ...), recorded as ``models.<name>.extra``."""
        value = self.extra.get("extra")
        return value if isinstance(value, Mapping) else {}

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "weights": self.weights, "weights_sha256": self.weights_sha256,
                "params": self.params, "demo": self.demo, **self.extra}


@dataclass(frozen=True)
class DatasetRecord:
    """run.json ``datasets.<name>``: where the HR images came from and their decoded-pixel hashes."""
    source: str = ""
    n_images: int | None = None
    verified: bool | None = None
    hr_pixel_sha256: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> DatasetRecord:
        d = _dict(d)
        known = ("source", "n_images", "verified", "hr_pixel_sha256")
        v = d.get("verified")
        return cls(str(d.get("source") or ""), _opt_int(d.get("n_images")), None if v is None else bool(v),
                   {str(k): str(h) for k, h in _dict(d.get("hr_pixel_sha256")).items()},
                   {k: x for k, x in d.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "n_images": self.n_images, "hr_pixel_sha256": dict(self.hr_pixel_sha256),
                "verified": self.verified, **self.extra}


@dataclass(frozen=True)
class MetricRecord:
    """run.json ``metrics.<name>``: direction, unit, version and default tolerance (None = not recorded)."""
    higher_is_better: bool | None = None
    unit: str | None = None
    version: str | None = None
    default_tolerance: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> MetricRecord:
        d = _dict(d)
        known = ("higher_is_better", "unit", "version", "default_tolerance")
        hib, tol = d.get("higher_is_better"), d.get("default_tolerance")
        try:
            tol = None if tol is None else float(tol)
        except (TypeError, ValueError):
            tol = None
        return cls(None if hib is None else bool(hib), _opt_str(d.get("unit")), _opt_str(d.get("version")), tol,
                   {k: v for k, v in d.items() if k not in known})

    def or_else(self, other: MetricRecord) -> MetricRecord:
        """Each field of ``self``, else ``other``'s."""
        pick = lambda a, b: b if a is None else a  # noqa: E731
        return MetricRecord(pick(self.higher_is_better, other.higher_is_better), pick(self.unit, other.unit),
                            pick(self.version, other.version),
                            pick(self.default_tolerance, other.default_tolerance), {**other.extra, **self.extra})

    def to_json(self) -> dict[str, Any]:
        keys = ("higher_is_better", "unit", "version", "default_tolerance")
        return {**{k: getattr(self, k) for k in keys if getattr(self, k) is not None}, **self.extra}


@dataclass(frozen=True)
class Comparison:
    """run.json ``comparisons[]``: an image saved for the report's visual comparison (paths relative)."""
    dataset: str
    scale: int
    image: str
    hr: str | None
    models: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> Comparison | None:
        if not isinstance(d, Mapping):
            return None
        return cls(str(d.get("dataset")), _opt_int(d.get("scale")) or 0, str(d.get("image")),
                   d.get("hr") if isinstance(d.get("hr"), str) else None,
                   {str(k): v for k, v in _dict(d.get("models")).items()})

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "scale": self.scale, "image": self.image, "hr": self.hr,
                "models": dict(self.models)}


@dataclass(frozen=True)
class ErrorRecord:
    """run.json ``errors[]``: what failed, where (``*`` = every model/dataset/image), and why."""
    model: str | None
    dataset: str | None
    scale: int | None
    image: str | None
    error: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> ErrorRecord:
        if not isinstance(d, Mapping):
            return cls(None, None, None, None, str(d))
        known = ("model", "dataset", "scale", "image", "error")
        return cls(_opt_str(d.get("model")), _opt_str(d.get("dataset")), _opt_int(d.get("scale")),
                   _opt_str(d.get("image")), str(d.get("error", "")), {k: v for k, v in d.items() if k not in known})

    @property
    def where(self) -> str:
        return " / ".join(str(v) for v in (self.model, self.dataset, self.scale, self.image) if v is not None)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, "scale": self.scale, "image": self.image,
                "error": self.error, **self.extra}


@dataclass(frozen=True)
class RunRecord:
    """run.json, typed (schema version 1, docs/schema.md). ``protocol`` is a :class:`srbench.protocol.Protocol`
    read verbatim; ``config``, ``environment`` and ``throughput`` stay mappings: their keys belong to the code
    that writes them (RunConfig, the environment probe, the timed pass). Unknown top-level keys live in
    ``extra``."""
    run_id: str
    schema_version: int = RESULTS_SCHEMA_VERSION
    created: str | None = None
    srbench_version: str | None = None
    git_sha: str | None = None
    command: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    protocol: Protocol = field(default_factory=lambda: Protocol.from_json({}))
    environment: Mapping[str, Any] = field(default_factory=dict)
    models: Mapping[str, ModelRecord] = field(default_factory=dict)
    datasets: Mapping[str, DatasetRecord] = field(default_factory=dict)
    metrics: Mapping[str, MetricRecord] = field(default_factory=dict)
    comparisons: tuple[Comparison, ...] = ()
    errors: tuple[ErrorRecord, ...] = ()
    warnings: tuple[str, ...] = ()
    throughput: Mapping[str, Any] | None = None
    seconds: float | None = None
    status: str = "unknown"
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN = ("schema_version", "run_id", "created", "srbench_version", "git_sha", "command", "config", "protocol",
              "environment", "models", "datasets", "metrics", "comparisons", "errors", "warnings", "throughput",
              "seconds", "status")

    @classmethod
    def from_json(cls, d: Mapping[str, Any], *, run_id: str = "") -> RunRecord:
        """Lenient: a value of the wrong type reads as absent (hand-made or older runs still render)."""
        seconds = d.get("seconds")
        comparisons = (Comparison.from_json(c) for c in d.get("comparisons") or [] if isinstance(c, Mapping))
        return cls(
            run_id=str(d.get("run_id") or run_id),
            schema_version=_opt_int(d.get("schema_version")) or RESULTS_SCHEMA_VERSION,
            created=_opt_str(d.get("created")),
            srbench_version=_opt_str(d.get("srbench_version")),
            git_sha=_opt_str(d.get("git_sha")),
            command=_opt_str(d.get("command")),
            config=_dict(d.get("config")),
            protocol=Protocol.from_json(_dict(d.get("protocol"))),
            environment=_dict(d.get("environment")),
            models={str(k): ModelRecord.from_json(v) for k, v in _dict(d.get("models")).items()},
            datasets={str(k): DatasetRecord.from_json(v) for k, v in _dict(d.get("datasets")).items()},
            metrics={str(k): MetricRecord.from_json(v) for k, v in _dict(d.get("metrics")).items()
                     if isinstance(v, Mapping)},
            comparisons=tuple(c for c in comparisons if c is not None),
            errors=tuple(ErrorRecord.from_json(e) for e in d.get("errors") or [] if e is not None),
            warnings=tuple(str(w) for w in d.get("warnings") or []),
            throughput=dict(d["throughput"]) if isinstance(d.get("throughput"), Mapping) else None,
            seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
            status=str(d.get("status") or "unknown"),
            extra={k: v for k, v in d.items() if k not in cls._KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": self.schema_version, "run_id": self.run_id, "created": self.created,
            "srbench_version": self.srbench_version, "git_sha": self.git_sha, "command": self.command,
            "config": dict(self.config), "protocol": self.protocol.to_json(), "environment": dict(self.environment),
            "models": {k: v.to_json() for k, v in self.models.items()},
            "datasets": {k: v.to_json() for k, v in self.datasets.items()},
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
            "comparisons": [c.to_json() for c in self.comparisons],
            "errors": [e.to_json() for e in self.errors],
            "warnings": list(self.warnings),
            "status": self.status,
        }
        if self.throughput is not None:
            out["throughput"] = dict(self.throughput)
        if self.seconds is not None:
            out["seconds"] = self.seconds
        out.update(self.extra)
        return out

    def metric(self, name: str) -> MetricRecord:
        """Metadata of ``name``: run.json's entry over srbench's fallback; direction None when unknown."""
        fallback = MetricRecord.from_json(FALLBACK_METRICS.get(name))
        entry = self.metrics.get(name)
        return fallback if entry is None else entry.or_else(fallback)

    def comparable_protocol(self) -> Protocol:
        """The protocol with the config's ``lr_source`` (what a baseline comparison reads; older blocks lack it)."""
        return self.protocol.with_lr_source(self.config.get("lr_source"))

    def config_list(self, key: str) -> list[Any]:
        v = self.config.get(key)
        return list(v) if isinstance(v, (list, tuple)) else []


def write_run_json(path: Path, record: RunRecord | Mapping[str, Any]) -> None:
    """Write run.json atomically (a reader sees the old file or the new one, never half of one)."""
    d = record.to_json() if isinstance(record, RunRecord) else {"schema_version": RESULTS_SCHEMA_VERSION, **record}
    try:
        atomic_write_text(path, json.dumps(d, indent=2, sort_keys=False, default=str) + "\n")
    except OSError as exc:
        raise write_error(Path(path), exc) from None


def read_run_json(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """run.json of ``run_dir`` as written, validated: RunDirError naming the file when it is missing,
    unreadable, not a JSON object, or of a schema version this srbench does not know."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"{path}: not a run directory (no such folder)")
    run_json = path / RUN_JSON
    if not run_json.is_file():
        raise RunDirError(f"{run_json}: missing; is {path} a folder written by `srbench run`?")
    try:
        meta = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{run_json}: unreadable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise RunDirError(f"{run_json}: expected a JSON object, got {type(meta).__name__}")
    version = meta.get("schema_version", RESULTS_SCHEMA_VERSION)
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise RunDirError(
            f"{run_json}: schema_version {version!r} is not supported by this srbench "
            f"(supported: {', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))})"
        )
    return meta


def load_record(run_dir: str | os.PathLike[str]) -> RunRecord:
    """The typed run.json of ``run_dir`` (see :func:`read_run_json` for the errors)."""
    return RunRecord.from_json(read_run_json(run_dir), run_id=Path(run_dir).name)


def new_record(config: RunConfig, run_id: str, *, device: str, world_size: int, lpips_info: Mapping[str, Any],
               command: str | None, errors: list[dict[str, Any]], warnings: list[str]) -> dict[str, Any]:
    """The run.json of a run that starts now (status ``running``), as the mutable dict the loop fills in.

    ``errors`` and ``warnings`` are the run's own lists (shared, not copied): run.json shows them as they grow.
    """
    return {
        "run_id": run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "srbench_version": srbench_version(),
        "git_sha": git_sha(),
        "command": command,
        "config": config.to_json(),
        "protocol": protocol(config, lpips_info),
        "environment": {**environment(device), "world_size": world_size},
        "models": {},
        "datasets": {},
        "metrics": {k: v.record() for k, v in METRIC_TABLE.items() if k in config.metrics},
        "comparisons": [],
        "errors": errors,
        "warnings": warnings,
        "status": "running",
    }


def resumed_record(record: dict[str, Any], before: Mapping[str, Any], kept_rows: int) -> None:
    """Carry what an interrupted run had recorded into ``record`` (its models, datasets, comparisons and
    creation time), with the interrupted run's status, row count and errors kept as history under
    ``resumes``: its image and model errors are not carried into ``errors`` (those images are retried, and
    fail again only if still broken)."""
    for key in ("models", "datasets"):
        record[key].update(before.get(key, {}))
    record["comparisons"] = before.get("comparisons", [])
    record["created"] = before.get("created", record["created"])
    record["resumes"] = [*(before.get("resumes") or []), {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "previous_status": before.get("status"), "previous_rows": kept_rows,
        "previous_errors": before.get("errors") or []}]


def srbench_version() -> str:

    return __version__


def add_comparison(run: dict[str, Any], dataset: str, scale: int, image: str, models: list[str]) -> None:
    """Note in run.json that ``models``' SR images of ``image`` were saved for the report."""
    for c in run["comparisons"]:
        if (c["dataset"], c["scale"], c["image"]) == (dataset, scale, image):
            entry = c
            break
    else:
        entry = {"dataset": dataset, "scale": scale, "image": image,
                 "hr": image_path(dataset, scale, "HR", image), "models": {}}
        run["comparisons"].append(entry)
    for m in models:
        entry["models"][m] = image_path(dataset, scale, m, image)
