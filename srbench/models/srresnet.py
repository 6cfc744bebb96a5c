"""Adapters ``srresnet`` (SRResNet-MSE) and ``srgan`` (the SRGAN generator): same network, other weights.

Weights are loaded safely and unwrapped by the one reader of :mod:`srbench.models.weights` (that of ``file:``
too): ``.safetensors`` files, or ``torch.load(weights_only=True)`` for ``.pt``/``.pth`` (no arbitrary pickle:
a file that needs code execution to load is rejected with a ModelError). With
``weights=None`` the packaged DEMO weights for x4 are used (``baselines/demo/``, trained offline on a CPU;
not the paper's). The sha256 of the weights file goes into ``info()`` and thus into every result.

Inference: BN folded into the convolutions, eval mode, ``torch.inference_mode``, channels_last; optional
overlapping tiles (``tile``, ``tile_overlap`` in LR pixels) for images too large to run whole.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import torch

from srbench.files import file_sha256
from srbench.interfaces import FusionUnsupported, ModelError, ModelInfo
from srbench.models.archs.fused import fuse
from srbench.models.archs.geometry import SUPPORTED_SCALES
from srbench.models.archs.srresnet import SRResNet, UnitRange
from srbench.models.fast import count_params, prepare_for_inference, tiled_forward
from srbench.models.inputs import check_lr
from srbench.models.weights import read_weights

DEMO_FILES = {"srresnet": "srresnet_x4_demo.safetensors", "srgan": "srgan_x4_demo.safetensors"}
DEMO_DESCRIPTION = "DEMO weights (trained offline on T91+BSD200 for {steps} steps on a CPU), not the paper's"

def demo_weights_path(name: str) -> Path:
    """Path of the packaged demo weights of ``name`` (``srresnet`` or ``srgan``) for x4."""
    res = importlib.resources.files("srbench") / "baselines" / "demo" / DEMO_FILES[name]
    return Path(str(res))


class SRResNetAdapter:
    """An SRModel around a trained SRResNet generator (or the seed generator, its Keras-shaped twin).

    ``module`` is the inference network (float32 NCHW [0, 1] LR -> [0, 1]-ish SR, BN folded, eval mode,
    channels_last; :class:`~srbench.models.archs.srresnet.UnitRange` around the generator), exposed for
    throughput timing and FLOP counting; its ``forward_plan`` is the fused plan. ``upscale`` runs that plan
    (BN/PReLU/residual/tanh inside the convolutions; about 2x faster on CPU, equal to ``module`` within
    2e-5), or ``module`` itself where the plan does not apply (the seed generator's per-channel PReLU).
    """

    def __init__(self, name: str, scale: int, net: SRResNet, *, device: str = "cpu", weights: str,
                 weights_sha256: str, demo: bool, description: str, tile: int | None = None,
                 tile_overlap: int | None = None, channels_last: bool = True) -> None:
        self.name = name
        self.scale = scale
        self.device = device
        self.receptive_radius = net.receptive_radius
        self.params = count_params(net)
        self.module = prepare_for_inference(UnitRange(net), device, channels_last=channels_last)
        self._forward: Any
        try:
            self._forward = fuse(self.module, device=device)
        except FusionUnsupported:
            self._forward = self.module
        self.tile = tile
        self.tile_overlap = net.receptive_radius if tile_overlap is None else tile_overlap
        # float32 activations alive at once, per LR pixel: the 64-feature body (input, residual, output) and the
        # last upsampling stage's 64 features at scale^2 the pixels (interfaces.Tileable). Measured: a 1000x1000
        # LR image at x4 run whole peaks about 5 GB above start-up, this estimate's 4.9 GB.
        self.bytes_per_lr_pixel = 4.0 * (3 * 64 + 64 * scale * scale)
        if tile is not None and tile <= 0:
            raise ModelError(f"{name}: tile must be a positive number of LR pixels, got {tile}")
        if self.tile_overlap < 0:
            raise ModelError(f"{name}: tile_overlap must be >= 0, got {self.tile_overlap}")
        self._info = ModelInfo(
            name=name, description=description, weights=weights, weights_sha256=weights_sha256,
            params=self.params, demo=demo,
            extra={"bn_folded": True, "tile": tile, "tile_overlap": self.tile_overlap if tile else None,
                   "receptive_radius_lr_px": net.receptive_radius},
        )

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """float32 NCHW RGB [0, 1] -> float32 NCHW, ``scale`` times larger, [0, 1]-ish."""
        check_lr(self.name, lr)
        with torch.inference_mode():
            x = lr.to(self.device).contiguous(memory_format=torch.channels_last)
            if self.tile:
                out = tiled_forward(self._forward, x, self.scale, self.tile, self.tile_overlap)
            else:
                out = self._forward(x)
        return out.contiguous()

    def info(self) -> ModelInfo:
        return self._info


def _build(name: str, scale: int, device: str, weights: str | None, tile: int | None,
           tile_overlap: int | None, options: dict[str, Any]) -> SRResNetAdapter:
    unknown = set(options) - {"channels_last"}
    if unknown:
        raise ModelError(f"{name}: unknown options {sorted(unknown)} "
                         "(known: weights, tile, tile_overlap, channels_last)")
    if scale not in SUPPORTED_SCALES:
        raise ModelError(f"{name}: scale {scale} is not supported (SRResNet has x{SUPPORTED_SCALES} variants)")
    demo = weights is None
    if demo:
        path = demo_weights_path(name)
        if scale != 4:
            raise ModelError(
                f"{name}: no packaged weights for x{scale} (srbench ships DEMO weights for x4 only). Train "
                f"some with `srbench train {name} --scale {scale} ...` and pass weights=<checkpoint>.safetensors "
                f"(CLI: --weights {name}=PATH)."
            )
        if not path.is_file():
            raise ModelError(f"{name}: packaged demo weights {path} are missing (broken install?); pass weights=PATH")
    else:
        path = Path(weights)
    ckpt = read_weights(path)
    sd, meta = ckpt.state_dict, ckpt.metadata
    net = SRResNet(scale)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{name}: weights {path} do not fit the x{scale} SRResNet: {exc}") from exc
    if demo:
        description = DEMO_DESCRIPTION.format(steps=meta.get("steps", "?"))
        if meta.get("content_loss") == "mse" and name == "srgan":
            description += "; SRGAN-MSE (pixel-MSE content loss: VGG19 ImageNet weights were unavailable offline)"
    else:
        description = f"{name} x{scale} from {path}"
    return SRResNetAdapter(
        name, scale, net, device=device, weights=str(path), weights_sha256=file_sha256(path), demo=demo,
        description=description, tile=tile, tile_overlap=tile_overlap,
        channels_last=bool(options.get("channels_last", True)),
    )


def build_srresnet(scale: int, *, device: str = "cpu", weights: str | None = None, tile: int | None = None,
                   tile_overlap: int | None = None, **options: Any) -> SRResNetAdapter:
    """SRResNet-MSE adapter. ``weights=None``: packaged DEMO weights (x4 only)."""
    return _build("srresnet", scale, device, weights, tile, tile_overlap, options)


def build_srgan(scale: int, *, device: str = "cpu", weights: str | None = None, tile: int | None = None,
                tile_overlap: int | None = None, **options: Any) -> SRResNetAdapter:
    """SRGAN generator adapter. ``weights=None``: packaged DEMO weights (x4 only, SRGAN-MSE content loss)."""
    return _build("srgan", scale, device, weights, tile, tile_overlap, options)
