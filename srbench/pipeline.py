"""The per-image core, one copy: uint8 image -> tensor -> model -> 8-bit quantise -> metrics.

Used by the evaluation loop (:mod:`srbench.evaluate`), the timed pass (:mod:`srbench.perf.bench`) and
training validation (:mod:`srbench.training.loop`), so that all three see the same input tensor, the same
quantiser and the same metric dispatch.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from srbench.data.imresize import bicubic_lr
from srbench.interfaces import ImagePair, SRBenchError, SRModel, Tileable
from srbench.metrics.table import METRIC_TABLE
from srbench.quantise import quantise_sr
from srbench.registry import get_model

if TYPE_CHECKING:
    import torch

    from srbench.metrics.perceptual import LPIPSMetric


def to_tensor(image: Any, device: str = "cpu") -> torch.Tensor:
    """uint8 HWC (C = 1 or 3, or HW) -> float32 RGB NCHW in [0, 1] on ``device``; gray is replicated to RGB.

    A float CHW/NCHW RGB tensor passes through (as float32, batched). Anything else is a ValueError saying
    what it got.
    """
    import torch  # deferred: importing srbench must not import torch

    if isinstance(image, torch.Tensor):
        t = image.float()
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4 or t.shape[1] != 3:
            raise ValueError(f"expected an RGB CHW/NCHW tensor, got shape {tuple(image.shape)}")
        return t.to(device)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3) or arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 HWC image with 1 or 3 channels, got {arr.dtype} {arr.shape}")
    t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float().div_(255.0)
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return t.unsqueeze(0).contiguous().to(device)


def apply_grayscale(pair: ImagePair, convention: str) -> ImagePair:
    """The pair as the run's grayscale convention scores it: ``"replicate"`` turns a single-channel pair into
    three equal channels (then it is RGB in every later step: the model's output is not averaged, and PSNR/SSIM
    use MATLAB Y); ``"raw"`` leaves it (the gray values are scored). RGB pairs are returned as they are.

    Replicating the LR equals downscaling the replicated HR: MATLAB's imresize works channel by channel.
    """
    if convention == "raw" or pair.hr.shape[2] != 1:
        return pair
    return replace(pair, hr=np.repeat(pair.hr, 3, axis=2), lr=np.repeat(pair.lr, 3, axis=2))


def quantise(sr: torch.Tensor, channels: int) -> np.ndarray:
    """Adapter output -> uint8 (C, H, W): clamp to [0, 1], round half up on the 0..255 scale
    (:func:`srbench.quantise.quantise_sr`, the quantiser training validation uses too).

    For a grayscale input (``channels == 1``) the output's three channels are averaged first.
    """
    return quantise_sr(sr, channels)


def run_model(model: SRModel, pair: ImagePair) -> np.ndarray:
    """Upscale one pair with ``model`` and return the quantised SR image, uint8 (C, H, W).

    The adapter boundary: whatever kind the model is (built-in, ``file:``, ``onnx:``, ``keras:``, a plugin),
    its output passes :func:`check_output`, and a ``sys.exit`` inside ``upscale`` (research code calling
    argparse or exit) becomes an error of that model instead of ending the run. Raises SRBenchError naming
    the model.
    """
    import torch  # deferred: importing srbench must not import torch

    lr = to_tensor(pair.lr, model.device)
    try:
        with torch.inference_mode():
            sr = model.upscale(lr)
    except SystemExit as exc:
        raise SRBenchError(f"model {model.name!r} called sys.exit({exc.code!r}) in upscale on {pair.id}; "
                           "an adapter must raise an exception, not exit (research code calling argparse?)") from None
    check_output(model.name, sr, lr, pair)
    return quantise(sr, pair.hr.shape[2])


# Outputs of an adapter are float RGB in about [0, 1]: the harness clamps, so a little overshoot is normal. A
# tenth of the pixels beyond this band means another convention (0..255 output, or [-1, 1] tanh not mapped).
_RANGE = (-0.5, 1.5)


@contextlib.contextmanager
def tiled_within(model: SRModel, lr_pixels: int, limit: int | None) -> Iterator[int | None]:
    """Run ``model`` tiled when running ``lr_pixels`` whole would take more than ``limit`` bytes of activations
    (a :class:`srbench.interfaces.Tileable` adapter not tiled already); yields the tile size used, or None.
    The tiles overlap by the network's receptive radius, so the output is the untiled one."""
    if limit is None or not isinstance(model, Tileable) or model.tile or lr_pixels * model.bytes_per_lr_pixel <= limit:
        yield None
        return
    side = max(32, int((limit / model.bytes_per_lr_pixel) ** 0.5) // 16 * 16)
    model.tile = side
    try:
        yield side
    finally:
        model.tile = None


def check_output(name: str, sr: Any, lr: torch.Tensor, pair: ImagePair) -> None:
    """The one output check for every adapter: a float tensor of shape (1, 3, H, W) = the HR's, finite, in about
    [0, 1]. An output whose size implies another scale says both scales. Raises SRBenchError naming the model."""
    import torch  # deferred: importing srbench must not import torch

    want = (1, 3, pair.hr.shape[0], pair.hr.shape[1])
    if not isinstance(sr, torch.Tensor):
        raise SRBenchError(f"model {name!r} returned {type(sr).__name__} for {pair.id}, expected a float tensor "
                           f"of shape {want}")
    if tuple(sr.shape) != want:
        msg = f"model {name!r} returned {tuple(sr.shape)} for {pair.id}, expected {want}"
        h, w = lr.shape[-2:]
        if sr.ndim == 4 and sr.shape[-2] % h == 0 and sr.shape[-1] * h == sr.shape[-2] * w:
            msg += f": its output is x{sr.shape[-2] // h} of the input, the run is x{pair.scale}"
        raise SRBenchError(msg)
    if not sr.is_floating_point():
        raise SRBenchError(f"model {name!r} returned a {sr.dtype} tensor for {pair.id}; adapters return float "
                           "RGB in [0, 1] (the harness rounds to 8 bits itself)")
    if not torch.isfinite(sr).all():
        raise SRBenchError(f"model {name!r} returned NaN or infinite values for {pair.id}")
    outside = float(((sr < _RANGE[0]) | (sr > _RANGE[1])).float().mean())
    if outside > 0.1:
        lo, hi = float(sr.min()), float(sr.max())
        hint = " (0..255? divide by 255)" if hi > 2 else " ([-1, 1]? map with (x + 1) / 2)" if lo < -0.5 else ""
        raise SRBenchError(f"model {name!r} returned values in [{lo:.3g}, {hi:.3g}] for {pair.id} "
                           f"({outside:.0%} outside [0, 1] by more than 0.5): adapters return RGB in [0, 1]{hint}")


def score(
    sr: np.ndarray,
    hr: np.ndarray,
    scale: int,
    metrics: tuple[str, ...],
    colour: str,
    lpips_metric: LPIPSMetric | None,
    *,
    states: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Metric values for one uint8 (C, H, W) SR image against uint8 HWC HR, per the protocol.

    Each requested metric's scorer comes from the metric table; a scorer shared by several requested
    metrics (PSNR and SSIM) runs once for all of them. ``states`` holds the loaded objects of stateful
    metrics (``lpips_metric`` is LPIPS's); a stateful metric without one is skipped.
    """
    states = dict(states or {})
    if lpips_metric is not None:
        states.setdefault("lpips", lpips_metric)
    hr_chw = hr.transpose(2, 0, 1)
    out: dict[str, float] = {}
    calls: dict[str, list[str]] = {}  # scorer -> the requested metrics it computes, in request order
    for name in metrics:
        spec = METRIC_TABLE[name]
        if spec.stateful and states.get(name) is None:
            continue
        calls.setdefault(spec.function, []).append(name)
    for wanted in calls.values():
        scorer = METRIC_TABLE[wanted[0]].load()
        state = next((states[m] for m in wanted if m in states), None)
        values = scorer(sr, hr_chw, scale=scale, colour=colour, wanted=tuple(wanted), state=state)
        out.update({m: values[m] for m in wanted if m in values})
    return {m: out[m] for m in metrics if m in out}


def load_lpips(metrics: tuple[str, ...], net: str, weights: str | None,
               device: str) -> tuple[LPIPSMetric | None, dict[str, Any]]:
    """The LPIPS metric object (None when not requested or unavailable) and its provenance record."""
    if "lpips" not in metrics:
        return None, {"available": False, "reason": "not requested"}
    from srbench.metrics.perceptual import LPIPSMetric, LPIPSUnavailable  # deferred: torch + lpips

    try:
        metric = LPIPSMetric(net, backbone=weights, device=device)
    except LPIPSUnavailable as exc:
        return None, {"available": False, "net": net, "version": "0.1", "reason": str(exc)}
    return metric, {"available": True, "range": "[-1,1]", "reason": None, **asdict(metric.info)}


# A model this far below bicubic on an image is almost never a bad model: it is a convention mismatch.
SANITY_DB = 3.0
SANITY_CAUSES = ("the input range ([0, 1] vs [0, 255])", "the channel order (RGB vs BGR)",
                 "a Y-only network given RGB", "the wrong scale", "a broken weights file")


def sanity_note(model: str, psnr: float, reference: float, where: str) -> str | None:
    """A warning when ``model``'s PSNR on one image is more than :data:`SANITY_DB` below bicubic's, naming the
    likely causes; None otherwise."""
    if not psnr < reference - SANITY_DB:
        return None
    return (f"{model} scores {psnr:.2f} dB on {where}, {reference - psnr:.1f} dB below bicubic "
            f"({reference:.2f} dB): check {', '.join(SANITY_CAUSES)}")


def bicubic_psnr(pair: ImagePair, colour: str) -> float:
    """PSNR of MATLAB bicubic on ``pair`` (the sanity check's reference when bicubic is not in the run)."""
    sr = run_model(_bicubic(pair.scale), pair)
    return score(sr, pair.hr, pair.scale, ("psnr",), colour, None)["psnr"]


def warm_up(metrics: tuple[str, ...], colour: str) -> None:
    """Load what a run's first image would otherwise wait for, on a small synthetic pair: numba's compiled
    kernels (cached on disk, still about 0.5 s to load) of the MATLAB resize, both ways, and of the metrics
    that need no loaded state. Nothing is kept and nothing can fail here that the real images would not
    report themselves, so any error is left to them."""
    try:
        hr = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
        pair = ImagePair("warm-up", bicubic_lr(hr, 4), hr, 4)
        sr = run_model(_bicubic(4), pair)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score(sr, hr, 4, tuple(m for m in metrics if not METRIC_TABLE[m].stateful), colour, None)
    except Exception:  # a warm-up only: the run's own images report any real problem
        pass


@functools.lru_cache(maxsize=8)
def _bicubic(scale: int) -> SRModel:
    """One bicubic adapter per scale (stateless), not one per image."""
    return get_model("bicubic", scale)


class Spent:
    """Where a run's wall time goes: each model's own time, and the harness's (reading images and making LR,
    metrics, writes, the sanity reference). Recorded in run.json (``time``) and shown by the report."""

    def __init__(self, clock: Any = time.perf_counter) -> None:
        self.clock = clock
        self.harness: dict[str, float] = {}
        self.models: dict[str, float] = {}
        self._lock = threading.Lock()  # the pipelined pass adds from its helper threads too

    @contextlib.contextmanager
    def on(self, what: str, model: str | None = None) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        finally:
            spent = self.clock() - start
            table, key = (self.models, model) if model is not None else (self.harness, what)
            with self._lock:
                table[key] = table.get(key, 0.0) + spent

    def record(self, wall: float) -> dict[str, Any]:
        model = sum(self.models.values())
        harness = sum(self.harness.values())
        return {"wall_s": round(wall, 3), "models_s": {k: round(v, 3) for k, v in self.models.items()},
                "harness_s": {k: round(v, 3) for k, v in self.harness.items()},
                "other_s": round(max(wall - model - harness, 0.0), 3),
                "model_share": round(model / wall, 4) if wall > 0 else None}


# The input conventions a model file may expect, as srbench can apply them around any adapter.
CONVENTIONS = {"RGB in [0, 1]": (1.0, False), "RGB in [0, 255]": (255.0, False),
               "BGR in [0, 1]": (1.0, True), "BGR in [0, 255]": (255.0, True)}


class _Convention:
    """``model`` fed in another convention: input times ``gain`` and channels reversed when ``bgr``; its output
    mapped back the same way."""

    def __init__(self, inner: SRModel, gain: float, bgr: bool) -> None:
        self.inner, self.gain, self.bgr = inner, gain, bgr
        self.name, self.scale, self.device = inner.name, inner.scale, inner.device

    def _flip(self, t: torch.Tensor) -> torch.Tensor:
        return t.flip(1) if self.bgr else t

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        return self._flip(self.inner.upscale(self._flip(lr) * self.gain)) / self.gain


def probe_conventions(model: SRModel, pair: ImagePair, colour: str = "y") -> dict[str, float]:
    """PSNR of ``model`` on ``pair`` fed in each of :data:`CONVENTIONS` (input scaled and/or channels reversed,
    the output mapped back the same way), with ``"bicubic"``'s for reference: which convention matches the
    model (``srbench models inspect --probe``). A convention the model cannot run gets NaN."""

    out = {"bicubic": bicubic_psnr(pair, colour)}
    for name, (gain, bgr) in CONVENTIONS.items():
        try:
            sr = run_model(_Convention(model, gain, bgr), pair)  # type: ignore[arg-type]
            out[name] = score(sr, pair.hr, pair.scale, ("psnr",), colour, None)["psnr"]
        except SRBenchError:
            out[name] = float("nan")
    return out
