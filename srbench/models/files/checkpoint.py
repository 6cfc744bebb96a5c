"""``file:PATH``: a checkpoint of one of the field's architectures, detected with spandrel.

The file is read by srbench itself, never unpickled: ``.safetensors`` with safetensors, ``.pth``/``.pt``/
``.ckpt`` with ``torch.load(weights_only=True, map_location="cpu")`` (a pickle that references any callable
is refused before it can run). Usual wrappers are unwrapped: BasicSR's ``params_ema`` (preferred) / ``params``,
``state_dict``, ``model``, ``net``, ``generator``, ..., a single-key dict, and the ``module.``/``netG.``
prefixes; an ``srbench train`` file's ``discriminator.*`` tensors are dropped (its generator is the model).
The plain dict of tensors then goes to spandrel's architecture detection (its main registry plus srbench's
additions, :mod:`srbench.models.archs.detect`), which builds the network and tells the scale, channels and
input-size requirements.

Inference: float32, eval mode, the network called as it is (no clamp: the harness clamps and rounds).
Networks with size requirements (window-attention models, pixel-unshuffle ESRGANs, minimum sizes) get their
LR input padded on the right and bottom by reflection (replicate beyond what reflection can reach), as the
field's test scripts do (HAT, BasicSR), and the output cropped back to ``scale`` x the input: every model is
scored on the same HR crop. One-channel (Y) models and 1x (pre-upsampling) networks run through
:class:`srbench.models.files.preupsample.PreUpsampleAdapter`: Y of the LR image in (bicubic-upsampled first for a
1x network), CbCr from MATLAB bicubic, ``ycbcr2rgb`` back.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from srbench.files import file_sha256
from srbench.interfaces import ModelError, ModelInfo
from srbench.models.archs.detect import registry
from srbench.models.fast import count_params, tiled_forward
from srbench.models.files.preupsample import PreUpsampleAdapter
from srbench.models.inputs import check_lr
from srbench.models.options import check_known, parse_int
from srbench.models.weights import Checkpoint, read_weights

SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors", ".bin")
PAD_MODES = ("reflect", "replicate")


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read ``path`` without executing code and unwrap it to a flat ``{name: tensor}`` state dict, by the one
    policy of :mod:`srbench.models.weights` (the same tensors as ``--weights``).

    Raises ModelError naming the file: missing, unreadable, refused by ``weights_only``, or holding no
    state dict of tensors.
    """
    return read_weights(path, what="model file")


@functools.lru_cache(maxsize=1)
def _registry() -> Any:
    return registry()


def detect(ckpt: Checkpoint) -> Any:
    """spandrel's ImageModelDescriptor for ``ckpt`` (network built, weights loaded; nothing run)."""
    from spandrel import ImageModelDescriptor, UnsupportedModelError  # deferred: spandrel is heavy

    sd = {k: v.float() if v.is_floating_point() else v for k, v in ckpt.state_dict.items()}
    try:
        desc = _registry().load(sd)
    except UnsupportedModelError as exc:
        raise ModelError(f"model file {ckpt.path}: architecture not recognised from its {len(sd)} keys "
                         f"(first: {', '.join(list(sd)[:4])}); spandrel knows ESRGAN/RRDB, Real-ESRGAN compact, "
                         "SwinIR, HAT, DAT, RCAN, SPAN, OmniSR, ...; srbench adds EDSR (BasicSR), SRCNN, FSRCNN, "
                         "IMDN, RFDN, RLFN, SPAN (deploy), CARN and its own SRResNet/seed generator. For another "
                         "network, name its code: -m 'py:arch.py:ClassName?arg=value' --weights NAME=FILE "
                         "(docs/plugins.md)") from exc
    except Exception as exc:
        raise ModelError(f"model file {ckpt.path}: detected keys but could not build the network ({exc})") from exc
    if not isinstance(desc, ImageModelDescriptor):
        raise ModelError(f"model file {ckpt.path}: a {desc.architecture.name} model is not an image-to-image model")
    hint = _scale_from_name(ckpt.path)
    if not getattr(desc.model, "scale_in_weights", True) and hint is not None:
        desc.model.set_scale(hint)  # FSRCNN: the deconvolution stride is not in the weights
        desc.scale = hint
    return desc


def _scale_from_name(path: Path) -> int | None:
    """The scale a file name states (``fsrcnn_x3.pth``, ``IMDN_x4``, ``model_2x``), or None."""
    m = re.search(r"(?:^|[^a-z0-9])x([2-8])(?![0-9])|(?<![0-9])([2-8])x(?:[^a-z0-9]|$)", path.name.lower())
    return int(m.group(1) or m.group(2)) if m else None


def _fit_scale(desc: Any, path: Path, scale: int) -> None:
    """Run a network whose scale is chosen at run time at ``scale``: multi-scale CARN (any of its branches),
    FSRCNN (deconvolution stride not stored) when the file name states no scale."""
    net = desc.model
    if desc.scale == scale or not hasattr(net, "set_scale") or scale not in getattr(net, "scales", ()):
        return
    if getattr(net, "scale_in_weights", True) is False and _scale_from_name(path) is not None:
        return  # the name says which scale these weights were trained for: a mismatch is an error below
    net.set_scale(scale)
    desc.scale = scale


def describe(path: str | Path) -> dict[str, Any]:
    """What srbench detects in a model file (``srbench models inspect``): nothing is run."""
    ckpt = read_checkpoint(path)
    desc = detect(ckpt)
    return _describe(ckpt, desc)


def _describe(ckpt: Checkpoint, desc: Any) -> dict[str, Any]:
    req = desc.size_requirements
    return {
        "file": str(ckpt.path),
        "sha256": file_sha256(ckpt.path),
        "architecture": desc.architecture.name,
        "architecture_id": str(desc.architecture.id),
        "purpose": desc.purpose,
        "scale": desc.scale,
        "input_channels": desc.input_channels,
        "output_channels": desc.output_channels,
        "params": count_params(desc.model),
        "size_requirements": {"minimum": req.minimum, "multiple_of": req.multiple_of, "square": req.square},
        "tiling": desc.tiling.name.lower(),
        "weights_dtype": ",".join(ckpt.dtypes),
        "tags": list(desc.tags),
        "checkpoint_wrapper": ckpt.wrapper,
        "checkpoint_prefix": ckpt.prefix,
        "supports_half": desc.supports_half,
        "supports_bfloat16": desc.supports_bfloat16,
    }


def pad_to(x: torch.Tensor, pad_h: int, pad_w: int, mode: str = "reflect") -> torch.Tensor:
    """Pad NCHW ``x`` on the bottom/right; reflect as far as it reaches (size - 1), replicate beyond."""
    if pad_h == 0 and pad_w == 0:
        return x
    h, w = x.shape[-2:]
    if mode == "reflect":
        rh, rw = min(pad_h, h - 1), min(pad_w, w - 1)
        if rh or rw:
            x = F.pad(x, (0, rw, 0, rh), mode="reflect")
        pad_h, pad_w = pad_h - rh, pad_w - rw
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return x


class PadCrop(nn.Module):
    """``net`` with its input padded to the size requirements and the output cropped back.

    This is what the adapter's ``.module`` is for networks with size requirements, so that a timed pass over
    arbitrary LR sizes runs the same computation as ``upscale`` (the padding is part of the model's cost).
    """

    def __init__(self, net: nn.Module, scale: int, minimum: int, multiple_of: int, square: bool,
                 mode: str = "reflect") -> None:
        super().__init__()
        self.net = net
        self.scale, self.minimum, self.multiple_of, self.square, self.mode = scale, minimum, multiple_of, square, mode

    def padding(self, h: int, w: int) -> tuple[int, int]:
        m = self.multiple_of
        ph, pw = -(-max(h, self.minimum) // m) * m, -(-max(w, self.minimum) // m) * m
        if self.square:
            ph = pw = max(ph, pw)
        return ph - h, pw - w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = self.padding(h, w)
        if not (pad_h or pad_w):
            return self.net(x)
        out = self.net(pad_to(x, pad_h, pad_w, self.mode))
        return out[..., : h * self.scale, : w * self.scale]


class FileModel:
    """SRModel for an RGB -> RGB network detected in a checkpoint (see the module doc).

    ``module`` is the torch module that ``upscale`` calls (the network itself, or :class:`PadCrop` around it
    when the network has size requirements), exposed for the timed pass and FLOP counting; ``network`` is
    the bare network.
    """

    def __init__(self, name: str, scale: int, network: nn.Module, *, device: str, info: ModelInfo,
                 size_requirements: tuple[int, int, bool] = (0, 1, False), pad_mode: str = "reflect",
                 tile: int | None = None, tile_overlap: int = 16) -> None:
        self.name = name
        self.scale = scale
        self.device = device
        self.network = network
        minimum, multiple_of, square = size_requirements
        needs = minimum > 0 or multiple_of > 1 or square
        self.module: nn.Module = PadCrop(network, scale, minimum, multiple_of, square, pad_mode) if needs else network
        self.tile = tile
        self.tile_overlap = tile_overlap
        self._info = info

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """float32 RGB NCHW [0, 1] (N, 3, h, w) -> float32 NCHW (N, 3, h*s, w*s); not clamped."""
        check_lr(self.name, lr)
        with torch.inference_mode():
            x = lr.to(self.device)
            if x is lr:  # some networks scale their input in place (spandrel's RCAN: x *= rgb_range)
                x = x.clone()
            if self.tile:
                return tiled_forward(self.module, x, self.scale, self.tile, self.tile_overlap)
            return self.module(x)

    def info(self) -> ModelInfo:
        return self._info

    def __repr__(self) -> str:
        return f"FileModel({self.name!r}, scale={self.scale}, device={self.device!r})"


OPTIONS = {"pad": "reflect (default) or replicate: how the LR is padded to the network's size requirements",
           "tile_overlap": "integer >= 0: LR pixels of context around each tile (with --tile; default 16)"}


def build(scale: int, *, path: str, device: str = "cpu", weights: str | None = None, tile: int | None = None,
          tile_overlap: int | str | None = None, pad: str = "reflect", **options: Any) -> Any:
    """The ``file:PATH`` adapter for ``scale`` on ``device``.

    Options (``file:PATH?pad=replicate``): ``pad`` and ``tile_overlap``. ``weights`` must be None (the path
    is the weights). Raises ModelError naming the file: unknown option, unreadable/unsafe file, architecture
    not recognised, a scale that is not the file's, unsupported channel counts.
    """
    check_known(options, OPTIONS, f"file:{path}")
    if weights is not None:
        raise ModelError(f"file:{path}: the file is the weights; --weights does not apply to file: models")
    if pad not in PAD_MODES:
        raise ModelError(f"file:{path}: pad must be one of {', '.join(PAD_MODES)}, got {pad!r}")
    overlap = parse_int(tile_overlap, "tile_overlap", f"file:{path}", optional=True)
    overlap = 16 if overlap is None else overlap
    if tile is not None and tile <= 0 or overlap < 0:
        raise ModelError(f"file:{path}: tile must be > 0 and tile_overlap >= 0, got {tile} and {overlap}")
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"file:{path}: invalid device {device!r} ({exc})") from exc
    ckpt = read_checkpoint(path)
    desc = detect(ckpt)
    _fit_scale(desc, ckpt.path, scale)
    facts = _describe(ckpt, desc)
    name = f"file:{path}"
    arch = facts["architecture"]
    if desc.scale not in (1, scale):
        raise ModelError(f"file:{path}: the file is a x{desc.scale} {arch} model, it cannot be evaluated at "
                         f"scale {scale} (use --scale {desc.scale})")
    if desc.input_channels not in (1, 3) or desc.output_channels != desc.input_channels:
        raise ModelError(f"file:{path}: {arch} with {desc.input_channels} input / {desc.output_channels} output "
                         "channels is not supported (srbench evaluates RGB -> RGB or Y -> Y models)")
    network = desc.model.eval().float().to(device)
    for p in network.parameters():
        p.requires_grad_(False)
    y_only = desc.input_channels == 1
    pre_upsample = desc.scale == 1 and scale > 1
    if desc.scale == 1 and scale == 1:
        pre_upsample = False
    handling = ("Y channel of the MATLAB-bicubic-upsampled LR; CbCr bicubic (pre-upsampling, Y only)"
                if y_only and pre_upsample else
                "Y channel of the LR; CbCr bicubic (Y only)" if y_only else
                "RGB of the MATLAB-bicubic-upsampled LR (pre-upsampling)" if pre_upsample else "RGB")
    extra = {"kind": "file", **{k: v for k, v in facts.items() if k not in ("file", "sha256", "params")},
             "file_scale": desc.scale, "run_dtype": "float32", "input": handling,
             "padding": pad if not desc.size_requirements.none else None,
             "tile": tile, "tile_overlap": overlap if tile else None}
    info = ModelInfo(name=name, description=f"{arch} x{scale} ({', '.join(desc.tags) or 'default config'}) from "
                     f"{Path(path).name}", weights=str(path), weights_sha256=facts["sha256"],
                     params=facts["params"], extra=extra)
    if y_only or pre_upsample:
        req = desc.size_requirements
        net: nn.Module = network
        if not req.none:
            net = PadCrop(network, desc.scale, req.minimum, req.multiple_of, req.square, pad)
        return PreUpsampleAdapter(name, scale, net, device=device, y_only=y_only, pre_upsample=pre_upsample,
                                  info=info)
    req = desc.size_requirements
    return FileModel(name, scale, network, device=device, info=info,
                     size_requirements=(req.minimum, req.multiple_of, req.square), pad_mode=pad, tile=tile,
                     tile_overlap=overlap)


def build_srcnn(scale: int, *, device: str = "cpu", weights: str | None = None, tile: int | None = None,
                tile_overlap: int | None = None, **options: Any) -> PreUpsampleAdapter:
    """SRCNN (9-1-5 by default; the layer sizes come from the weights) as a pre-upsampling Y adapter: the
    shipped example of :mod:`srbench.models.files.preupsample`, ``file:PATH`` for an SRCNN file.

    ``weights`` (required: srbench ships none) is a safetensors or ``weights_only`` torch file with the
    keys ``conv{1,2,3}.{weight,bias}``. ``tile`` is accepted and ignored (SRCNN runs whole images).
    """
    if options:
        raise ModelError(f"srcnn: unknown options {sorted(options)}")
    if weights is None:
        raise ModelError("srcnn: srbench ships no SRCNN weights; pass weights=PATH (CLI: --models file:PATH)")
    return build(scale, path=str(Path(weights)), device=device)
