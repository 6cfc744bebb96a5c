"""The per-image stages of a run: read an HR image and make its pair, run the models on it, score their outputs.

:class:`ImagePass` runs them for the images of one (dataset, scale), one after another (``workers=0``) or
pipelined: helper threads read the next images and score the previous one while the models run, so a GPU and
the cores work at once. Both give the same rows in the same order (:mod:`srbench.evaluate` absorbs them).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from srbench.config import TIMING_IMAGES, RunConfig
from srbench.console import SEP, Task
from srbench.data.io import pixel_sha256, write_image
from srbench.data.sources import make_pair
from srbench.interfaces import ImagePair, ResultRow, SRBenchError, SRModel
from srbench.markup import plain
from srbench.metrics.scorers import MetricUndefinedWarning
from srbench.pipeline import Spent, apply_grayscale, bicubic_psnr, run_model, sanity_note, score, tiled_within
from srbench.rundir import image_path

if TYPE_CHECKING:
    from srbench.data.sources import DatasetSource
    from srbench.metrics.perceptual import LPIPSMetric


@dataclass
class ImageResult:
    """What one image produced, for every requested model (picklable: gathered across ranks)."""

    image: str
    rows: list[ResultRow] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    hr_sha256: str | None = None
    compared: list[str] = field(default_factory=list)  # models whose SR image was saved for the report
    warnings: list[str] = field(default_factory=list)  # e.g. a metric that has no value for this image
    sanity: list[tuple[str, str]] = field(default_factory=list)  # (model, note): far below bicubic here


class ImagePass:
    """The per-image stages of one run. ``done`` holds the (model, dataset, scale, image) a resumed run has;
    ``timing_images`` collects the first LR images of each dataset for the timed pass; ``seconds`` each model's
    time on the (dataset, scale) in progress (for the console's summary)."""

    def __init__(self, config: RunConfig, metrics: tuple[str, ...], lpips: LPIPSMetric | None, run_dir: Path,
                 done: set[tuple[str, str, int, str]], spent: Spent, say: Callable[[str], None]) -> None:
        self.config, self.metrics, self.lpips, self.run_dir, self.done = config, metrics, lpips, run_dir, done
        self.spent, self.say = spent, say
        self.task: Task | None = None  # the (dataset, scale) in progress: its bar names the running model
        self.seconds: dict[str, float] = {}
        self.lock = threading.Lock()  # self.seconds: the pipelined pass's threads add to it too
        self.timing_images: dict[str, list[np.ndarray]] = {}  # "<dataset>@x<scale>" -> LR for the timed pass
        self.memory_limit = config.memory_limit  # read once: /proc/meminfo at the start of the run

    def run(self, images: list[Any], source: DatasetSource, scale: int, models: dict[str, SRModel],
                picks: set[str], done: Any) -> None:
        """Every image of one (dataset, scale), ``done(result)`` called for each in order.

        With ``workers`` (default min(4, cores - 1)), helper threads read the next images and make their LR
        while the models run on this one, and score the previous image (quantisation, metrics, image writes,
        the sanity reference) meanwhile: on a GPU the device and the cores work at once. ``workers=0`` runs the
        steps one after another. Both write the same results, in the same order.
        """
        depth = self.config.n_workers
        if depth == 0:
            for image in images:
                result, pair, outputs = ImageResult(image.id), None, []
                try:
                    pair = self._prepare(result, source, image, scale, models)
                    if pair is not None:
                        self._forward(result, pair, source, models, image.id in picks, outputs)
                finally:  # even when interrupted half-way through an image's models: nothing is lost
                    self._score(result, pair, outputs, source.name, models)
                    done(result)
            return
        reader = ThreadPoolExecutor(1, thread_name_prefix="srbench-read")
        scorer = ThreadPoolExecutor(1, thread_name_prefix="srbench-score")
        reads = deque(reader.submit(self._prepare_new, source, image, scale, models) for image in images[:depth])
        pending: deque[tuple[ImageResult, Future[None]]] = deque()
        try:
            for i, image in enumerate(images):
                result, pair = reads.popleft().result()
                if i + depth < len(images):
                    reads.append(reader.submit(self._prepare_new, source, images[i + depth], scale, models))
                outputs: list[tuple[str, np.ndarray, Path | None]] = []
                try:
                    if pair is not None:
                        self._forward(result, pair, source, models, image.id in picks, outputs)
                finally:  # interrupted half-way through the models: the outputs made so far are scored and kept
                    pending.append((result, scorer.submit(self._score, result, pair, outputs, source.name, models)))
                while pending and pending[0][1].done():
                    done(self._finished(*pending.popleft()))
                while len(pending) > 1:  # the scorer is at most one image behind the models
                    done(self._finished(*pending.popleft()))
        finally:  # interrupted or not: every image whose models ran is scored and kept, in order
            while pending:
                done(self._finished(*pending.popleft()))
            reader.shutdown(wait=True, cancel_futures=True)
            scorer.shutdown(wait=True)

    @staticmethod
    def _finished(result: ImageResult, job: Future[None]) -> ImageResult:
        job.result()
        return result

    def _prepare_new(self, source: DatasetSource, image: Any, scale: int,
                     models: dict[str, SRModel]) -> tuple[ImageResult, ImagePair | None]:
        result = ImageResult(image.id)
        return result, self._prepare(result, source, image, scale, models)

    def _prepare(self, result: ImageResult, source: DatasetSource, image: Any, scale: int,
                 models: dict[str, SRModel]) -> ImagePair | None:
        """Read the HR image, hash its pixels, make the pair (modcrop, MATLAB LR, grayscale convention); None
        when every model already has it (resume) or the image cannot be used (an error of ``result``)."""
        if all((m, source.name, scale, image.id) in self.done for m in models):
            return None
        try:
            with self.spent.on("read_and_lr"):
                hr_full = image.load(max_pixels=self.config.max_pixels)
                result.hr_sha256 = pixel_sha256(hr_full)
                return apply_grayscale(make_pair(image, scale, lr_source=self.config.lr_source,
                                                 lr_root=source.lr_root, hr=hr_full, max_pixels=self.config.max_pixels),
                                       self.config.grayscale)
        except (SRBenchError, ValueError) as exc:
            result.errors.append(error_record("*", source.name, scale, image.id, str(exc)))
            self.say(f"error: {exc}")
            return None

    def _forward(self, result: ImageResult, pair: ImagePair, source: DatasetSource, models: dict[str, SRModel],
                 compare: bool, outputs: list[tuple[str, np.ndarray, Path | None]]) -> None:
        """Run every model that still needs this image, appending (model, 8-bit SR, where to save it or None)
        to ``outputs`` as each finishes (so an interrupt keeps what ran)."""
        timed = self.timing_images.setdefault(f"{source.name}@x{pair.scale}", [])
        if self.config.throughput and len(timed) < TIMING_IMAGES:
            timed.append(pair.lr if pair.lr.shape[2] == 3 else np.repeat(pair.lr, 3, axis=2))
        save_dir = self.run_dir if compare else None  # the HR image is written with the outputs (_score)
        for name in [m for m in models if (m, source.name, pair.scale, pair.id) not in self.done]:
            started = time.perf_counter()
            if self.task is not None:
                self.task.set_detail(f"{name}{SEP}{list(models).index(name) + 1}/{len(models)} models")
            try:
                limit = self.memory_limit
                with self.spent.on("model", name), tiled_within(models[name], pair.lr.shape[0] * pair.lr.shape[1],
                                                                limit) as tile:
                    outputs.append((name, run_model(models[name], pair), save_dir))
                if tile:
                    result.warnings.append(f"{name} on {source.name}/{pair.id} x{pair.scale}: run in {tile}x{tile} "
                                           f"LR tiles to stay under --max-memory ({limit / 2**30:.1f} GiB)")
            except Exception as exc:  # contained: the message names the model and the image
                result.errors.append(error_record(name, source.name, pair.scale, pair.id, str(exc)))
                self.say(f"error: {name} on {source.name}/{pair.id} x{pair.scale}: {exc}")
            finally:
                self._add_seconds(name, time.perf_counter() - started)

    def _score(self, result: ImageResult, pair: ImagePair | None, outputs: list[tuple[str, np.ndarray, Path | None]],
               dataset: str, models: dict[str, SRModel]) -> None:
        """Metrics and image writes of each model's output on this image, then the sanity check."""
        if pair is None:
            return
        where = f"{dataset}/{pair.id} x{pair.scale}"
        if any(save_dir is not None for _, _, save_dir in outputs):
            with self.spent.on("writes"):
                save_image(self.run_dir, dataset, pair.scale, "HR", pair.id, pair.hr)
        for name, sr, save_dir in outputs:
            started = time.perf_counter()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", MetricUndefinedWarning)
                    result.rows += score_one(name, sr, pair, dataset, self.config, self.metrics, self.lpips,
                                              save_dir, self.spent)
                for w in caught:  # a metric without a value for this image: said once, in run.json too
                    if issubclass(w.category, MetricUndefinedWarning):
                        result.warnings.append(f"{name} on {where}: {w.message}")
                    else:
                        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                if save_dir is not None:
                    result.compared.append(name)
            except Exception as exc:  # contained: the message names the model and the image
                result.errors.append(error_record(name, dataset, pair.scale, pair.id, str(exc)))
                self.say(f"error: {name} on {where}: {exc}")
            finally:
                self._add_seconds(name, time.perf_counter() - started)
        with self.spent.on("sanity"):
            self._sanity(result, pair, where)

    def _add_seconds(self, model: str, seconds: float) -> None:
        with self.lock:
            self.seconds[model] = self.seconds.get(model, 0.0) + seconds

    def _sanity(self, result: ImageResult, pair: ImagePair, where: str) -> None:
        """Flag models far below bicubic on this image (pipeline.sanity_note); bicubic computed if not in the run."""
        psnr = {r.model: r.value for r in result.rows if r.metric == "psnr" and r.model != "bicubic"}
        if not psnr:
            return
        ref = next((r.value for r in result.rows if r.metric == "psnr" and r.model == "bicubic"), None)
        if ref is None:
            ref = bicubic_psnr(pair, self.config.colour)
        for model, value in psnr.items():
            note = sanity_note(model, value, ref, where)
            if note:
                result.sanity.append((model, note))


def error_record(model: str, dataset: str, scale: int, image: str, message: str) -> dict[str, Any]:
    return {"model": model, "dataset": dataset, "scale": scale, "image": image, "error": plain(message)}


def score_one(
    name: str,
    sr: np.ndarray,
    pair: ImagePair,
    dataset: str,
    config: RunConfig,
    metrics: tuple[str, ...],
    lpips_metric: LPIPSMetric | None,
    save_dir: Path | None,
    spent: Spent,
) -> list[ResultRow]:
    """Rows of one model's 8-bit output on one pair (and its image written for the report); raises (the caller
    records the error against the model). ``spent`` gets the harness's time (metrics, image writes)."""
    with spent.on("metrics"):
        values = score(sr, pair.hr, pair.scale, metrics, config.colour, lpips_metric)
    if save_dir is not None:
        with spent.on("writes"):
            save_image(save_dir, dataset, pair.scale, name, pair.id, sr.transpose(1, 2, 0))
    return [ResultRow(name, dataset, pair.scale, pair.id, m, v) for m, v in values.items()]


def save_image(run_dir: Path, dataset: str, scale: int, who: str, image: str, pixels: np.ndarray) -> None:
    write_image(run_dir / image_path(dataset, scale, who, image), np.ascontiguousarray(pixels), fast=True)
