"""What defines a run: :class:`RunConfig` (frozen), its constants, and the rule for what a resume may change.

``resume_conflicts`` is the one place that rule lives: :func:`srbench.evaluate.evaluate` enforces it for
every caller (a resumed run never mixes two configs), and the CLI turns the same answer into a usage error.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import PurePath
from typing import Any

from srbench.interfaces import SRBenchError
from srbench.metrics.table import DEFAULT_METRICS, computed_metrics
from srbench.registry import split_path_kind

METRICS = computed_metrics()  # every metric srbench computes: the metric table's rows with a scorer
TIMING_IMAGES = 5  # real LR images per dataset and scale in the timed pass (`srbench bench -d` times them all)
COLOURS = ("y", "rgb")
LR_SOURCES = ("matlab", "official")
# A single-channel HR file (Set14 `bridge`): "replicate" copies it to RGB first, as the evaluation code behind most
# model tables since EDSR does (RCAN's scripts, EDSR-PyTorch, BasicSR); "raw" scores the gray values themselves,
# as older MATLAB code (SRCNN, VDSR) and the published bicubic tables do. docs/protocol.md has the measured effect.
GRAYSCALES = ("replicate", "raw")
DEFAULT_MAX_PIXELS = 40_000_000  # per HR image; ~40 MP needs ~4 GB while evaluated (the largest benchmark image: 3 MP)

# Fields a resumed run may change although they differ from its recorded config: they change no number.
RESUME_SAFE = frozenset({"throughput", "throughput_sizes", "time_budget", "workers", "max_memory"})


# `-m LABEL=SPEC`: a label is a plain name (no ":" or "/", so "file:a=b.pth" and "x?k=v" are not labels).
_LABELLED = re.compile(r"^([A-Za-z0-9_.+-]+)=(.+)$")


def model_label(entry: str) -> tuple[str, str]:
    """(label, spec) of one ``--models`` entry: ``imdn2=file:/x/IMDN_x2.pth`` -> ("imdn2", "file:/x/IMDN_x2.pth").

    Without a label, a ``KIND:PATH`` model is named by its file's stem (``file:/x/IMDN_x2.pth`` -> "IMDN_x2"):
    tables, plots, CSVs and run.json use the label, never a long path. Any other name is its own label.
    """
    m = _LABELLED.match(entry)
    if m:
        return m.group(1), m.group(2)
    kinded = split_path_kind(entry)
    if kinded is None:
        return entry, entry
    path = kinded[1].partition("?")[0].rstrip("/")
    stem = PurePath(path).stem if "/" in path or "." in path else path
    if stem.endswith((".pth", ".pt", ".tar", ".weights")):  # x.pth.tar, gen.weights.h5
        stem = PurePath(stem).stem
    return stem or entry, entry


def _file_name(spec: str) -> str:
    kinded = split_path_kind(spec)
    return PurePath(kinded[1].partition("?")[0].rstrip("/")).name if kinded else spec


class ConfigConflict(SRBenchError):
    """A resume whose config differs from the recorded one in a field that changes results."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; recorded in run.json. Frozen: options are never mutated."""

    models: tuple[str, ...] = ("bicubic", "srresnet", "srgan")
    datasets: tuple[str, ...] = ("samples",)
    scales: tuple[int, ...] = (4,)
    device: str = "cpu"
    lr_source: str = "matlab"  # "matlab": regenerate LR with srbench's imresize; "official": the dataset's files
    metrics: tuple[str, ...] = DEFAULT_METRICS
    colour: str = "y"  # PSNR/SSIM on MATLAB Y ("y") or on RGB ("rgb")
    grayscale: str = "replicate"  # single-channel HR files: "replicate" to RGB first, or score them "raw"
    lpips_net: str = "alex"
    lpips_weights: str | None = None  # backbone path; "random" only for tests
    data_dir: str | None = None
    weights: tuple[tuple[str, str], ...] = ()  # (model, path) pairs
    tile: int | None = None
    compare: tuple[str, ...] | None = None  # image ids for visual comparisons; None = first `n_compare`
    n_compare: int = 2
    crop_box: tuple[int, int, int, int] | None = None  # x, y, w, h in HR pixels, for the report's crops
    throughput: bool = True
    throughput_sizes: tuple[int, ...] = (128,)  # square LR sizes of the timed pass (`srbench bench` sweeps more)
    time_budget: float = 2.0  # seconds per timed cell, at least 3 calls (srbench.perf.timing.time_adaptive)
    max_memory: int | None = None  # bytes an image's activations may take before it is tiled; None: half the free
    workers: int | None = None  # helper threads of the quality pass; None: min(4, cores - 1); 0: one after another
    seed: int = 0
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # larger images are errors (decompression bombs); None: no limit

    def __post_init__(self) -> None:
        for key in ("models", "datasets", "scales", "metrics"):  # "-s 4,4" or "-d set5,set5" run once
            object.__setattr__(self, key, tuple(dict.fromkeys(getattr(self, key))))
        if self.max_pixels == 0:  # as on the command line: 0 = no limit
            object.__setattr__(self, "max_pixels", None)
        if self.max_pixels is not None and (isinstance(self.max_pixels, bool)
                                            or int(self.max_pixels) != self.max_pixels or self.max_pixels < 1):
            raise ValueError(f"max_pixels must be a positive integer or None, got {self.max_pixels!r}")
        if not self.models:
            raise ValueError("no models given")
        if not self.datasets:
            raise ValueError("no datasets given")
        if not self.scales or any(int(s) != s or s < 1 for s in self.scales):
            raise ValueError(f"scales must be positive integers, got {self.scales}")
        labels = [label for label, _ in self.labelled_models]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValueError(f"two models are labelled {', '.join(map(repr, twice))}: name them with LABEL=SPEC "
                             "(e.g. -m imdn2=file:a/IMDN.pth,imdn2b=file:b/IMDN.pth)")
        unknown = set(self.metrics) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}; known: {', '.join(METRICS)}")
        if self.colour not in COLOURS:
            raise ValueError(f"colour must be one of {COLOURS}, got {self.colour!r}")
        if self.workers is not None and (isinstance(self.workers, bool) or int(self.workers) != self.workers
                                         or self.workers < 0):
            raise ValueError(f"workers must be an integer >= 0 or None, got {self.workers!r}")
        if self.max_memory is not None and (isinstance(self.max_memory, bool) or int(self.max_memory) != self.max_memory
                                            or self.max_memory < 0):
            raise ValueError(f"max_memory must be a number of bytes >= 0 or None, got {self.max_memory!r}")
        if self.grayscale not in GRAYSCALES:
            raise ValueError(f"grayscale must be one of {GRAYSCALES}, got {self.grayscale!r}")
        if self.lr_source not in LR_SOURCES:
            raise ValueError(f"lr_source must be 'matlab' or 'official', got {self.lr_source!r}")
        if any(isinstance(s, bool) or int(s) != s or s < 1 for s in self.throughput_sizes):
            raise ValueError(f"throughput_sizes must be positive integers, got {self.throughput_sizes}")
        if isinstance(self.time_budget, bool) or not float(self.time_budget) >= 0:
            raise ValueError(f"time_budget must be >= 0 seconds, got {self.time_budget!r}")

    @property
    def memory_limit(self) -> int | None:
        """Bytes an image's activations may take before it is tiled automatically: ``max_memory``, else half of
        the memory available now (None: no limit, ``max_memory=0``, or unknown on this system)."""
        if self.max_memory is not None:
            return self.max_memory or None
        try:  # MemAvailable: free memory plus what the kernel can reclaim (its page cache)
            with open("/proc/meminfo", encoding="ascii") as f:
                kb = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
            return kb * 1024 // 2
        except (OSError, StopIteration, ValueError):
            pass
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
        except (ValueError, OSError, AttributeError):
            return None

    @property
    def n_workers(self) -> int:
        """The quality pass's helper threads: ``workers``, or by default min(4, the cores the models leave free).

        On a GPU one core drives the device: cores - 1. On a CPU the models run on torch's intra-op threads,
        which by default take every core: there a helper cannot add a core, only take one from the models
        (measured on 2 cores: 3 % slower than one step after another, ``tests/benchmarks/bench_overhead.py``),
        so the default is cores - those threads (0 unless torch was given fewer, e.g. ``OMP_NUM_THREADS``).
        """
        if self.workers is not None:
            return self.workers
        cores = os.cpu_count() or 1
        if str(self.device).startswith("cpu"):
            import torch  # deferred: the threads a CPU model runs on (a run has imported torch by now)

            busy = torch.get_num_threads()
        else:
            busy = 1
        return min(4, max(cores - busy, 0))

    @property
    def labelled_models(self) -> tuple[tuple[str, str], ...]:
        """(label, spec) of each model, in order: see :func:`model_label`. Two file models whose stems agree
        (``file:a/x.pth,file:b/x.safetensors``) are labelled by their file names instead."""
        pairs = [model_label(m) for m in self.models]
        stems = [label for label, spec in pairs if label != spec]
        return tuple((_file_name(spec) if label != spec and stems.count(label) > 1 and not _LABELLED.match(spec)
                      and split_path_kind(spec) else label, spec) for label, spec in pairs)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["weights"] = dict(self.weights)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunConfig:
        d = dict(d)
        d["weights"] = tuple(sorted(d.get("weights", {}).items()))
        for key in ("models", "datasets", "scales", "metrics", "throughput_sizes"):
            if key in d:
                d[key] = tuple(d[key])
        if d.get("compare") is not None:
            d["compare"] = tuple(d["compare"])
        if d.get("crop_box") is not None:
            d["crop_box"] = tuple(d["crop_box"])
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**d)


def recorded_config(d: dict[str, Any]) -> RunConfig:
    """The config recorded in a run.json. A run recorded before ``grayscale`` existed scored gray files raw."""
    return RunConfig.from_json({"grayscale": "raw", **d})


def resume_conflicts(recorded: RunConfig, given: RunConfig) -> dict[str, tuple[Any, Any]]:
    """Field -> (recorded, given) for each field a resume would change that changes results.

    Empty when ``given`` may continue the run recorded with ``recorded`` (only :data:`RESUME_SAFE` fields
    differ, or none).
    """
    return {f.name: (getattr(recorded, f.name), getattr(given, f.name)) for f in fields(RunConfig)
            if f.name not in RESUME_SAFE and getattr(recorded, f.name) != getattr(given, f.name)}


def describe_conflicts(conflicts: dict[str, tuple[Any, Any]], said: str = "now") -> str:
    """``"models: run has ('bicubic',), now ('srgan',)"``: one clause per conflicting field."""
    return "; ".join(f"{k}: run has {old!r}, {said} {new!r}" for k, (old, new) in conflicts.items())
