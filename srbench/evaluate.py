"""The one orchestration loop: datasets x scales x images x models -> tidy rows in a run directory.

Data flow (STYLE.md): HR (verified) -> modcrop + MATLAB bicubic -> ImagePair -> adapter.upscale ->
clamp + round to 8 bits -> metrics (Y, crop = scale, float64; LPIPS on RGB) -> rows -> aggregate.

Failures are contained: a dataset that cannot be resolved, an image that cannot be read, a model that
cannot be built or that raises / returns a wrong shape / NaN each become an error record naming the
file or model, and everything else still runs. Rows are appended to ``results.csv`` as they are
computed, so an interrupted run keeps its work and ``resume=True`` continues it.
"""

from __future__ import annotations

import functools
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from srbench import rundir
from srbench.config import (
    ConfigConflict,
    RunConfig,
    describe_conflicts,
    recorded_config,
    resume_conflicts,
)
from srbench.console import Console, bench_progress, model_names
from srbench.data.fetch import compare_pixel_hashes
from srbench.data.sources import resolve_dataset, unique_source
from srbench.distributed import barrier, gather_rows, init_from_env, shard, shutdown, sigterm_as_interrupt
from srbench.imagepass import ImagePass, ImageResult, error_record
from srbench.interfaces import ModelInfo, ResultRow, SRBenchError, SRModel
from srbench.metrics.table import DEFAULT_METRICS
from srbench.perf.bench import BenchOptions, TimingImages, jobs_from_built, run_bench
from srbench.pipeline import Spent, load_lpips, warm_up
from srbench.registry import build_models

if TYPE_CHECKING:
    from srbench.data.sources import DatasetSource
    from srbench.metrics.perceptual import LPIPSMetric

__all__ = ["RunConfig", "RunOutcome", "evaluate"]

@dataclass
class RunOutcome:
    """What a run returned: its rows (results.csv), summary (summary.csv), errors, warnings and status.

    The CLI prints from this object; it never re-reads the files the run just wrote.
    """

    run_dir: Path
    rows: list[ResultRow]
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: str = "complete"
    summary: list[rundir.SummaryRow] = field(default_factory=list)
    models: dict[str, rundir.ModelRecord] = field(default_factory=dict)
    throughput: Any = None  # the timed pass's table (pandas DataFrame), when it ran

    @property
    def ok(self) -> bool:
        return not self.errors and self.status == "complete"


@dataclass
class _Prepared:
    """What a run needs before it touches its directory: every model at every scale, and the stateful metrics."""

    models: dict[int, dict[str, SRModel]]
    lpips: LPIPSMetric | None
    lpips_info: dict[str, Any]


def _prepare(config: RunConfig, device: str, console: Console) -> _Prepared:
    """Build every model at every scale and load LPIPS, before the run directory exists: a model that cannot
    be built, or an explicitly requested metric that cannot run, is an error of the whole command (the CLI's
    exit 2) that names the file and the problem, not a failure half-way through a run. Meanwhile a thread
    loads the compiled kernels of the resize and the metrics (:func:`srbench.pipeline.warm_up`), start-up
    work the first image would otherwise wait for; the console shows a ``preparing`` line throughout."""
    kernels = threading.Thread(target=warm_up, args=(config.metrics, config.colour), name="srbench-warm-up",
                               daemon=True)
    kernels.start()
    n_models = len(config.labelled_models) * len(config.scales)
    with console.task("preparing", n_models + 1, unit="steps") as task:
        try:
            task.set_detail("LPIPS" if "lpips" in config.metrics else "metrics")
            lpips, lpips_info = load_lpips(config.metrics, config.lpips_net, config.lpips_weights, device)
            explicit = config.metrics != DEFAULT_METRICS or config.lpips_weights is not None
            if lpips is None and "lpips" in config.metrics and explicit:
                raise SRBenchError(f"lpips was asked for but cannot run: {lpips_info.get('reason')}")

            def building(what: str) -> None:
                task.advance()
                task.set_detail(what)

            models = build_models(config.labelled_models, config.scales, device=device,
                                  weights=dict(config.weights), tile=config.tile, building=building)
            task.set_detail("compiled kernels")
        finally:
            kernels.join()
        task.advance()
        task.close(f"{n_models} model{'s' if n_models != 1 else ''}, kernels loaded")
    return _Prepared(models, lpips, lpips_info)


def _model_record(info: ModelInfo) -> dict[str, Any]:
    d = asdict(info)
    d.pop("name", None)
    return d


def evaluate(
    config: RunConfig,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    log: Any = None,
    console: Console | None = None,
) -> RunOutcome:
    """Run ``config`` and write the run directory; returns rows, errors and warnings.

    ``out_dir`` defaults to ``reports/<run-id>``. With ``resume=True`` the (model, dataset, scale, image)
    combinations already in ``out_dir/results.csv`` are skipped. ``log`` is a callable for messages
    (default: the console's). ``console`` draws the progress and prints each (dataset, scale)'s quality
    summary as soon as it is complete (default: bars on a terminal unless ``progress`` is false, else plain
    lines; see :mod:`srbench.console`). Under ``torchrun`` the images are sharded across ranks and the rows
    gathered on rank 0, which alone writes files and prints progress: the results equal a single-process
    run, row for row.
    """
    with sigterm_as_interrupt():
        return _evaluate(config, out_dir, resume, progress, command, log, console)


def _evaluate(config: RunConfig, out_dir: str | Path | None, resume: bool, progress: bool, command: str | None,
              log: Any, console: Console | None) -> RunOutcome:
    dist = init_from_env(config.device)
    console = console or Console(progress=progress)
    if not dist.is_main:  # rank 0 prints the progress for everyone; the others only their errors
        console = Console("quiet", stream=console.stream)
    say = log or (lambda msg: console.say(msg if dist.world_size == 1 else f"[rank {dist.rank}] {msg}"))
    try:
        run_dir = _run_dir(out_dir, config, dist)
        if resume:
            _check_resume(run_dir, config)
        prepared = _prepare(config, dist.device if dist.backend == "nccl" else config.device, console)
        if not dist.is_main:
            return _Runner(config, run_dir, dist, resume, progress, command, say, prepared, console).run()
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise rundir.RunDirError(f"{run_dir}: cannot create the run directory ({exc.strerror or exc})") from None
        with rundir.RunLock(run_dir):  # one writer per run directory
            return _Runner(config, run_dir, dist, resume, progress, command, say, prepared, console).run()
    finally:
        shutdown(dist)


def _check_resume(run_dir: Path, config: RunConfig) -> None:
    """A resume continues the recorded run: run.json must be readable and ``config`` must not change a field
    that changes results (:func:`srbench.config.resume_conflicts`); else nothing is touched."""
    recorded = rundir.read_run_json(run_dir)  # a clear error when run.json is missing or corrupt
    try:
        before = recorded_config(recorded.get("config") or {})
    except (TypeError, ValueError) as exc:
        raise ConfigConflict(f"{run_dir / rundir.RUN_JSON}: its config is not valid ({exc})") from None
    conflicts = resume_conflicts(before, RunConfig.from_json(config.to_json()))
    if conflicts:
        raise ConfigConflict(f"{run_dir}: a resume continues the recorded run, but this config changes it "
                             f"({describe_conflicts(conflicts)}); start a new run in another directory")


def _run_dir(out_dir: str | Path | None, config: RunConfig, dist: Any) -> Path:
    if out_dir:
        return Path(out_dir)
    name = [rundir.new_run_id(config)]
    if dist.initialized:  # every rank must agree on the timestamped name
        import torch.distributed  # deferred: importing srbench must not import torch

        torch.distributed.broadcast_object_list(name, src=0)
    return Path("reports") / name[0]


class _Runner:
    """The state of one run; ``run()`` is the loop of the module docstring."""

    def __init__(self, config: RunConfig, run_dir: Path, dist: Any, resume: bool, progress: bool,
                 command: str | None, say: Any, prepared: _Prepared,
                 console: Console) -> None:
        self.config, self.run_dir, self.dist, self.progress, self.say = config, run_dir, dist, progress, say
        self.console = console
        self.device = dist.device if dist.backend == "nccl" else config.device
        results = run_dir / rundir.RESULTS_CSV
        if not resume and results.exists() and results.stat().st_size:
            raise SRBenchError(f"{run_dir} already holds results: pass --resume to continue it, "
                               "or choose another --out")
        self.lpips, lpips_info = prepared.lpips, prepared.lpips_info
        self.metrics = tuple(m for m in config.metrics if m != "lpips" or self.lpips is not None)
        previous = rundir.resumable_rows(results, self.metrics, dist.is_main, say) if resume else []
        self.done = rundir.completed(previous, self.metrics)
        self.outcome = RunOutcome(run_dir, list(previous))
        if lpips_info.get("reason") and "lpips" in config.metrics:
            self.outcome.warnings.append(lpips_info["reason"])  # the CLI prints warnings at the end
        self.record = rundir.new_record(config, run_dir.name, device=self.device, world_size=dist.world_size,
                                        lpips_info=lpips_info, command=command, errors=self.outcome.errors,
                                        warnings=self.outcome.warnings)
        if resume and (run_dir / rundir.RUN_JSON).exists():
            rundir.resumed_record(self.record, rundir.read_run_json(run_dir), len(previous))
        self.models = prepared.models
        for scale_models in self.models.values():
            for name, model in scale_models.items():
                self.record["models"].setdefault(name, _model_record(model.info()))
        self.spent = Spent()
        self.images = ImagePass(config, self.metrics, self.lpips, run_dir, self.done, self.spent, say)
        self.writer: rundir.ResultsWriter | None = None
        self.dataset_names: dict[str, str] = {}  # resolved origin -> dataset name used in this run
        barrier(dist)  # every rank has checked and read results.csv before rank 0 starts writing it

    def run(self) -> RunOutcome:
        started = time.perf_counter()
        try:
            if self.dist.is_main:
                _write_record(self.run_dir, self.record)
                self.writer = rundir.ResultsWriter(self.run_dir / rundir.RESULTS_CSV)
            for spec in self.config.datasets:
                self._dataset(spec)
            self.record["time"] = {**self.spent.record(time.perf_counter() - started),  # the quality pass
                                   "workers": self.config.n_workers}
            if self.config.throughput and self.dist.is_main:
                self.record["throughput"] = _throughput(self.config, self.models, self.images.timing_images,
                                                        self.run_dir, self.outcome, self.say, self.console)
        except KeyboardInterrupt:
            self.outcome.status = "interrupted"
            self.say(f"interrupted: {len(self.outcome.rows)} rows kept in {self.run_dir}; continue with --resume")
        except Exception as exc:  # anything unexpected: recorded as a failed run, never as a success
            self.outcome.status = "failed"
            message = str(exc) if isinstance(exc, SRBenchError) else f"unexpected {type(exc).__name__}: {exc}"
            self.outcome.errors.append({**error_record("*", "*", 0, "*", f"run failed: {message}"),
                                        "traceback": traceback.format_exc()})
            self.say(f"error: run failed: {message}; {len(self.outcome.rows)} rows kept in {self.run_dir}")
        finally:
            if self.writer is not None:
                self.writer.close()
            if self.dist.is_main:
                _finish(self.run_dir, self.record, self.outcome, time.perf_counter() - started)
        return self.outcome

    def _dataset(self, spec: str) -> None:
        try:
            source = resolve_dataset(spec, data_dir=self.config.data_dir)
        except SRBenchError as exc:
            self.outcome.errors.append(error_record("*", spec, 0, "*", str(exc)))
            self.say(f"error: {exc}")
            return
        source = self._unique_name(spec, source)
        if source is None:
            return
        record = self.record["datasets"].setdefault(
            source.name, {"source": source.origin, "n_images": len(source.images), "hr_pixel_sha256": {}}
        )
        picks = _picks(self.config, source)
        for scale in self.config.scales:
            models = self.models[scale]
            mine = shard(list(source.images), self.dist)
            self.images.task = self.console.task(f"{source.name} x{scale}", len(mine), unit="img")
            self.images.seconds = {}
            results: list[ImageResult] = []

            try:
                self.images.run(mine, source, scale, models, picks,
                             functools.partial(self._done, results=results, dataset=source.name, scale=scale,
                                               record=record))
            finally:
                self.images.task.close(model_names(list(models)))
            for result in gather_rows(results, self.dist):
                self._absorb(result, source.name, scale, record)
            if self.dist.is_main:
                self._report(source.name, scale)
        if self.dist.is_main:
            _verify_dataset(source, record, self.outcome, self.say)

    def _done(self, result: ImageResult, *, results: list[ImageResult], dataset: str, scale: int,
              record: dict[str, Any]) -> None:
        """An image is finished (called in image order, so results.csv is the sequential run's)."""
        if self.dist.initialized:
            results.append(result)  # gathered on rank 0 at the end of the (dataset, scale)
        else:
            self._absorb(result, dataset, scale, record)
        self.images.task.advance()

    def _unique_name(self, spec: str, source: DatasetSource) -> DatasetSource | None:
        """The dataset under a name no other dataset of this run has (None: the same data again)."""
        source, note = unique_source(spec, source, self.dataset_names)
        if note:
            self.outcome.warnings.append(note)
            self.say(f"warning: {note}")
        return source

    def _report(self, dataset: str, scale: int) -> None:
        """The quality summary of a finished (dataset, scale), printed at once (the run goes on to the next
        dataset and the timed pass): per model, the means of summary.csv and the time it took."""
        rows = [r for r in self.outcome.rows if r.dataset == dataset and r.scale == scale]
        table: dict[str, dict[str, float]] = {}
        n_images = 0
        for s in rundir.summarise(rows):  # the run's one aggregation: the same numbers as summary.csv
            table.setdefault(s.model, {})[s.metric] = s.value
            n_images = max(n_images, s.n_images)
        self.console.results(f"{dataset} x{scale}", table, n_images=n_images, seconds=self.images.seconds)

    def _absorb(self, result: ImageResult, dataset: str, scale: int, record: dict[str, Any]) -> None:
        if self.writer is not None:
            with self.spent.on("writes"):
                self.writer.write(result.rows)
        self.outcome.rows.extend(result.rows)
        self.outcome.errors.extend(result.errors)
        for note in result.warnings:
            self.outcome.warnings.append(note)
            self.say(f"warning: {note}")
        for model, note in result.sanity:  # warned once per model; run.json counts the images
            flagged = self.record.setdefault("sanity", {}).setdefault(model, {"images": 0, "first": note})
            flagged["images"] += 1
            if flagged["images"] == 1:
                self.outcome.warnings.append(note)
                self.say(f"warning: {note}")
        if result.hr_sha256:
            record["hr_pixel_sha256"].setdefault(result.image, result.hr_sha256)
        if result.compared:
            rundir.add_comparison(self.record, dataset, scale, result.image, result.compared)


def _picks(config: RunConfig, source: DatasetSource) -> set[str]:
    ids = [im.id for im in source.images]
    if config.compare is not None:
        return set(config.compare) & set(ids)
    return set(sorted(ids)[: config.n_compare])


def _verify_dataset(source: DatasetSource, record: dict[str, Any], outcome: RunOutcome, say: Any) -> None:
    """Compare decoded-pixel hashes of the HR images with the catalogue manifest, when it pins them."""
    record["verified"], problem = compare_pixel_hashes(source.catalogue, source.name, source.origin,
                                                       record["hr_pixel_sha256"], (im.id for im in source.images))
    if problem:
        outcome.warnings.append(problem)
        say(f"warning: {problem}")


def _throughput(
    config: RunConfig,
    built: dict[int, dict[str, SRModel]],
    images: dict[str, list[np.ndarray]],
    run_dir: Path,
    outcome: RunOutcome,
    say: Any,
    console: Console | None = None,
) -> dict[str, Any] | None:
    """The separate timed pass over the same models: fixed LR sizes and the datasets' first real LR images
    (``config.throughput_sizes``, :data:`srbench.config.TIMING_IMAGES`), each cell timed adaptively within
    ``config.time_budget`` and each model's ceiling checked (:func:`srbench.perf.bench.run_bench`).

    Writes ``throughput.csv``; returns its summary for run.json (None when nothing was timed), with the
    pass's own wall time (``seconds``).
    """
    if not any(built.values()):
        return None
    console = console or Console("plain")
    jobs = jobs_from_built(built)
    console.info(f"throughput: timing {len(jobs)} model(s) (--no-throughput skips this)")
    started = time.perf_counter()
    timing = []
    for key, lrs in images.items():
        if lrs:
            name, _, at = key.partition("@x")
            for sc in ([int(at)] if at else list(built)):
                timing.append(TimingImages(name, int(sc), tuple(lrs)))
    try:
        options = BenchOptions(sizes=tuple((s, s) for s in config.throughput_sizes), device=config.device,
                               budget_s=config.time_budget, fused=True, channels_last=True)  # what the adapters run
        with console.task("throughput", len(jobs), unit="models") as task:
            result = run_bench(jobs, options, images=timing, out_dir=run_dir, progress=bench_progress(task))
    except Exception as exc:  # timing must never lose the quality results
        msg = f"throughput pass failed: {exc}"
        outcome.warnings.append(msg)
        say(f"warning: {msg}")
        return None
    for err in result.errors:
        outcome.warnings.append(f"throughput: {err}")
    table = result.frame
    if table.empty:
        return None
    outcome.throughput = table
    return result.record(budget_s=config.time_budget, seconds=time.perf_counter() - started)




def _write_record(run_dir: Path, run: dict[str, Any]) -> None:
    """run.json through the run directory's one writer, as a typed record."""
    rundir.write_run_json(run_dir / rundir.RUN_JSON, rundir.RunRecord.from_json(run, run_id=run_dir.name))


def _finish(run_dir: Path, run: dict[str, Any], outcome: RunOutcome, seconds: float) -> None:
    """Write summary.csv, the final run.json and report.html. A write that fails (disk full, read-only)
    becomes an error of the outcome naming the file; it never hides the run's own status."""
    outcome.summary = rundir.summarise(outcome.rows)  # rows == results.csv
    outcome.models = {k: rundir.ModelRecord.from_json(v) for k, v in run.get("models", {}).items()}
    for note in rundir.infinity_notes(outcome.summary):
        if note not in outcome.warnings:
            outcome.warnings.append(note)
    if outcome.status == "complete" and outcome.errors:
        outcome.status = "failed" if not outcome.rows else "complete-with-errors"
    run["status"] = outcome.status
    run["seconds"] = round(seconds, 3)
    try:
        rundir.write_summary(run_dir / rundir.SUMMARY_CSV, outcome.summary)
        _write_record(run_dir, run)
    except SRBenchError as exc:
        outcome.status = "failed"
        outcome.errors.append(error_record("*", "*", 0, "*", str(exc)))
        return
    from srbench.report.html import write_report  # deferred: the report needs pandas and matplotlib

    try:
        write_report(run_dir)
    except Exception as exc:  # a report bug must not lose the results
        outcome.warnings.append(f"report.html could not be written: {exc}")
