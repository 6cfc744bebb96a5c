"""The vocabulary shared by every part of srbench.

Image convention at every boundary: adapters and metrics take float32 RGB NCHW tensors in [0, 1].
uint8 HWC arrays exist only at file I/O and inside the data layer (``ImagePair`` holds them because
the protocol's LR images *are* uint8: MATLAB rounds them). Metric arithmetic is float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # importing srbench must not import torch
    import torch


class SRBenchError(Exception):
    """Base class of srbench's own errors: the message is meant for the user as is."""


class ImageError(SRBenchError):
    """A file could not be used as an image; the message names the file and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ModelError(SRBenchError):
    """An adapter could not be built or returned something unusable."""


class FusionUnsupported(SRBenchError, ValueError):
    """A module has no fused inference plan (:class:`Fusable`); the message names what did not match."""


class DatasetError(SRBenchError):
    """A dataset could not be found, downloaded or verified."""


@dataclass(frozen=True)
class ModelInfo:
    """What a report says about a model. ``demo`` marks weights that are not the paper's."""

    name: str
    description: str = ""
    weights: str | None = None  # path or package resource of the weights file
    weights_sha256: str | None = None
    params: int | None = None
    demo: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class SRModel(Protocol):
    """The adapter protocol.

    ``upscale`` takes float32 RGB NCHW in [0, 1] of shape (N, 3, h, w) on ``device`` and returns
    float32 RGB NCHW of shape (N, 3, h * scale, w * scale). Values outside [0, 1] are allowed (the
    harness clamps and rounds to 8 bits, as the protocol says); NaN is an error.
    """

    name: str
    scale: int
    device: str

    def upscale(self, lr: torch.Tensor) -> torch.Tensor: ...

    def info(self) -> ModelInfo: ...


@runtime_checkable
class TorchBacked(Protocol):
    """An adapter that runs a torch module: ``module`` maps float32 NCHW [0, 1] LR on the adapter's device
    to its SR output (the network the adapter runs, without the adapter's input checks or tiling).

    Optional beside :class:`SRModel`: the throughput pass times and counts FLOPs of ``module`` when an
    adapter has one, and times ``upscale`` otherwise. ``module`` may be None (no torch network).
    """

    module: torch.nn.Module | None


@runtime_checkable
class Tileable(Protocol):
    """An adapter that can run an image in overlapping LR tiles (``tile``: LR pixels, None = whole) and says how
    much memory its activations take per LR pixel, so the harness can tile an image automatically when running
    it whole would exceed ``--max-memory`` (same output: the tiles overlap by the network's receptive radius)."""

    tile: int | None
    bytes_per_lr_pixel: float


@runtime_checkable
class Fusable(Protocol):
    """A torch module with a fused inference plan of itself (the SRResNet networks and srbench's [0, 1]
    wrapper of one, :mod:`srbench.models.archs.fused`).

    ``forward_plan`` returns a callable that maps what the module maps (NCHW float32 on ``device``) to the
    same output within float rounding, faster; it computes in ``dtype`` ("fp32", "bf16" or "fp16") and
    returns float32. It raises :class:`FusionUnsupported` when the plan does not apply to this instance.
    Optional: the throughput pass's ``fused`` option asks the module it times (a bare module or a
    :class:`TorchBacked` adapter's ``module``) and times the module itself, with a note, otherwise.
    """

    def forward_plan(self, *, device: str | torch.device = "cpu",
                     dtype: str = "fp32") -> Callable[[torch.Tensor], torch.Tensor]: ...


@dataclass(frozen=True)
class ImagePair:
    """One evaluation sample. ``hr`` is modcropped; ``lr`` has shape (H/scale, W/scale, C).

    Both are uint8 HWC with C = 3 (RGB) or C = 1 (grayscale, evaluated without a Y transform).
    """

    id: str
    lr: np.ndarray
    hr: np.ndarray
    scale: int
    source: str = ""  # path of the HR file, for messages


@dataclass(frozen=True)
class MetricSpec:
    """Typed metadata of a metric: reports derive arrows and 'best' from ``higher_is_better``.

    The metric table (``srbench.metrics.table.METRIC_TABLE``) holds one of these per metric and is the
    only place that describes a metric: evaluation, checks, tables and the report all derive from it.
    ``function`` is a lazy ``"module:attr"`` reference (importing srbench stays torch-free) to a scorer
    ``fn(sr, hr, *, scale, colour, wanted, state) -> dict[str, float]`` (see ``srbench.metrics.scorers``);
    an empty ``function`` marks a metric srbench only reads (published numbers such as MOS). A scorer
    shared by several metrics (PSNR and SSIM) is called once for all of them. ``stateful`` metrics need a
    loaded object (``state``, e.g. the LPIPS network) and are skipped when it is absent.
    """

    name: str
    higher_is_better: bool
    unit: str = ""
    version: str = "1"
    description: str = ""
    default_tolerance: float = 0.0  # regression-check tolerance in the metric's unit
    label: str = ""  # how tables and the report name it ("PSNR"); default: the name
    decimals: int = 4  # paper tables
    report_decimals: int | None = None  # the HTML report; default: ``decimals``
    reference_free: bool = False  # computed from the SR image alone (NIQE), no HR needed
    function: str = ""  # "module:attr" of the scorer; "" = not computed by srbench
    stateful: bool = False

    # The keys written into run.json's "metrics" block (schema v1): kept stable for older readers.
    RECORD_KEYS = ("higher_is_better", "unit", "version", "description", "default_tolerance")

    @property
    def display(self) -> str:
        return self.label or self.name

    @property
    def computed(self) -> bool:
        return bool(self.function)

    def record(self) -> dict[str, Any]:
        """This metric's entry of run.json's ``metrics`` block."""
        return {k: getattr(self, k) for k in self.RECORD_KEYS}

    def load(self) -> Any:
        """Import and return the scorer named by ``function``."""
        if not self.function:
            raise ValueError(f"metric {self.name!r} is not computed by srbench (no scorer in the metric table)")
        import importlib

        module, attr = self.function.split(":")
        return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class ResultRow:
    """One tidy row of results.csv."""

    model: str
    dataset: str
    scale: int
    image: str
    metric: str
    value: float


RESULT_COLUMNS = ("model", "dataset", "scale", "image", "metric", "value")
SUMMARY_COLUMNS = ("model", "dataset", "scale", "metric", "value", "n_images")
RESULTS_SCHEMA_VERSION = 2  # 2: summary.csv gained std, reference, delta, ci_low, ci_high
