"""``py:FILE.py:Class`` / ``py:package.module:Class``: the user's own network code plus a weights file.

For architectures srbench does not detect, without writing a plugin (BasicSR users name the class and its
arguments)::

    srbench run -m 'py:archs/my_arch.py:MyNet?upscale=4&num_feat=64' --weights 'py:...=net.pth' ...
    srbench run -m 'py:basicsr.archs.rrdbnet_arch:RRDBNet?num_block=23&weights=RRDB.pth' ...

The file (or importable module) is the user's code, named explicitly by them: it is imported and run, as
a plugin would be. The weights are not: they go through srbench's one safe reader and unwrap policy
(:func:`srbench.models.files.checkpoint.read_checkpoint`: safetensors or ``torch.load(weights_only=True)``;
``params_ema``/``params``/``model``/``state_dict`` wrappers, ``module.`` prefixes). Missing or unexpected
keys are a ModelError that lists them. ``weights=none`` runs the class as it builds itself.

Options after ``?`` are, first, the adapter's (``ADAPTER_OPTIONS``); every other one is a keyword argument
of the class, typed from the class signature (a ``bool`` parameter takes ``true/false/1/0/yes/no``; an
``int``/``float``/``str`` default or annotation converts to that type) or, for an untyped parameter, from
the literal (``true``/``false``, integer, float, ``none``, else a string). A ``upscale``/``scale``/
``upscale_factor``/``scale_factor`` parameter the user leaves out gets the run's scale.

The network is called in float32, eval mode, under ``inference_mode``, as NCHW RGB in [0, 1] unless the
options say otherwise: ``input_range=255`` (input multiplied, output divided by 255), ``channel_order=bgr``,
``y_only`` (the network sees MATLAB Y; CbCr bicubic), ``pre_upsample`` (the network sees the
MATLAB-bicubic-upsampled LR and keeps its size) and ``pad=N`` (the LR padded by reflection on the
bottom/right to a multiple of N, the output cropped back).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from srbench.files import file_sha256
from srbench.interfaces import ModelError, ModelInfo
from srbench.models.files.preupsample import PreUpsampleAdapter
from srbench.models.options import parse_bool

OPTIONS = ADAPTER_OPTIONS = {
    "weights": "weights file (.pth/.pt/.safetensors), or 'none'; also --weights NAME=FILE",
    "input_range": "1 (default) or 255: the value range the network takes and returns",
    "channel_order": "rgb (default) or bgr",
    "y_only": "false (default) or true: the network takes and returns MATLAB Y (CbCr bicubic)",
    "pre_upsample": "false (default) or true: the network takes the bicubic-upsampled LR, same size out",
    "pad": "1 (default) or N: pad the LR to a multiple of N (reflection), crop the output back",
    "tile_overlap": "LR pixels of context around each tile (with --tile)",
}
SCALE_PARAMETERS = ("upscale", "scale", "upscale_factor", "scale_factor")
def _literal(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def typed_kwargs(cls: Any, options: dict[str, Any], who: str) -> dict[str, Any]:
    """``options`` (strings from the query string, or typed values from Python) typed for ``cls(**...)``."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    out: dict[str, Any] = {}
    for key, value in options.items():
        p = params.get(key)
        if p is None and not takes_any:
            known = [n for n, q in params.items() if q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)]
            options = ", ".join(ADAPTER_OPTIONS)
            raise ModelError(f"{who}: {key!r} is neither an option of py: models ({options}) "
                             f"nor a parameter of {cls.__name__} ({', '.join(known) or 'none'})")
        if not isinstance(value, str):
            out[key] = value
            continue
        kind = _declared_type(p) if p is not None else None
        try:
            if kind is bool:
                out[key] = parse_bool(value, key, who)
            elif kind in (int, float):
                out[key] = kind(value)
            elif kind is str:
                out[key] = value
            else:
                out[key] = _literal(value)
        except ValueError:
            want = kind.__name__ if kind else "a value"
            raise ModelError(f"{who}: {key} must be {want}, got {value!r}") from None
    return out


def _declared_type(p: inspect.Parameter) -> type | None:
    """bool/int/float/str from a parameter's default or (string) annotation; None when not declared."""
    if p.default is not inspect.Parameter.empty and p.default is not None:
        for t in (bool, int, float, str):
            if type(p.default) is t:
                return t
    ann = p.annotation
    names = {"bool": bool, "int": int, "float": float, "str": str}
    if isinstance(ann, str):
        return names.get(ann.strip())
    return ann if ann in (bool, int, float, str) else None


def import_class(spec: str) -> tuple[Any, str | None]:
    """(the class named by ``FILE.py:Class`` or ``package.module:Class``, the file's sha256 or None)."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise ModelError(f"py:{spec}: expected py:FILE.py:ClassName or py:package.module:ClassName")
    path = Path(where)
    sha = None
    if where.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ModelError(f"py:{spec}: {where} not found")
        sha = file_sha256(path)
        name = f"srbench_py_{path.stem}_{sha[:12]}"
        module = sys.modules.get(name)
        if module is None:
            mspec = importlib.util.spec_from_file_location(name, path)
            if mspec is None or mspec.loader is None:
                raise ModelError(f"py:{spec}: cannot import {where}")
            module = importlib.util.module_from_spec(mspec)
            sys.modules[name] = module  # dataclasses, pickling and relative lookups want it registered
            try:
                mspec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[name]
                raise ModelError(f"py:{spec}: importing {where} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"
            raise ModelError(f"py:{spec}: cannot import module {where!r}: {why}") from exc
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ModelError(f"py:{spec}: {where} has no {attr!r}")
    if not callable(obj):
        raise ModelError(f"py:{spec}: {attr} is not a class or factory")
    return obj, sha


def load_weights(net: nn.Module, path: str, who: str) -> Any:
    """Read ``path`` with srbench's reader, load it strictly into ``net``; return the Checkpoint."""
    from srbench.models.files.checkpoint import read_checkpoint  # deferred: it imports safetensors, torch, tqdm

    ckpt = read_checkpoint(path)
    try:
        result = net.load_state_dict(ckpt.state_dict, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ModelError(f"{who}: weights {path} do not fit the network: {exc}") from exc
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing or unexpected:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:12]) + (f", ... ({len(keys)} in all)" if len(keys) > 12 else "")

        parts = ([f"missing keys: {show(missing)}"] if missing else []) + (
            [f"unexpected keys: {show(unexpected)}"] if unexpected else [])
        raise ModelError(f"{who}: weights {path} do not match the network's state dict; " + "; ".join(parts)
                         + f" (file unwrapped from {ckpt.wrapper or 'a plain state dict'}"
                         + (f", prefix {ckpt.prefix!r} removed)" if ckpt.prefix else ")"))
    return ckpt


class Convention(nn.Module):
    """The network called in its own convention: RGB->BGR and [0, 1] -> [0, ``input_range``] on the way
    in, back on the way out (``input_range`` 1 and RGB: the network is called as it is)."""
    def __init__(self, net: nn.Module, input_range: float = 1.0, bgr: bool = False) -> None:
        super().__init__()
        self.net, self.input_range, self.bgr = net, input_range, bgr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        if self.input_range != 1:
            x = x * self.input_range
        y = self.net(x)
        if not isinstance(y, torch.Tensor):
            raise ModelError(f"the network returned {type(y).__name__}, expected one tensor")
        if self.input_range != 1:
            y = y / self.input_range
        return y.flip(1) if self.bgr else y


def build(scale: int, *, path: str, device: str = "cpu", weights: str | None = None, tile: int | None = None,
          tile_overlap: int | str | None = None, **options: Any) -> Any:
    """The ``py:SPEC`` adapter (see the module doc). Raises ModelError naming the spec."""
    who = f"py:{path}"
    w_opt = options.pop("weights", None) if "weights" in options else None
    if w_opt is not None and weights is not None and str(w_opt) != str(weights):
        raise ModelError(f"{who}: weights given twice ({w_opt} and {weights})")
    weights = weights if weights is not None else w_opt
    try:
        input_range = float(options.pop("input_range", 1))
    except ValueError:
        raise ModelError(f"{who}: input_range must be 1 or 255") from None
    if input_range not in (1.0, 255.0):
        raise ModelError(f"{who}: input_range must be 1 or 255, got {input_range:g}")
    order = str(options.pop("channel_order", "rgb")).lower()
    if order not in ("rgb", "bgr"):
        raise ModelError(f"{who}: channel_order must be rgb or bgr, got {order!r}")
    y_only = parse_bool(options.pop("y_only", False), "y_only", who)
    pre_upsample = parse_bool(options.pop("pre_upsample", False), "pre_upsample", who)
    if y_only and order == "bgr":
        raise ModelError(f"{who}: channel_order does not apply to a y_only network")
    try:
        pad = int(options.pop("pad", 1))
        overlap = 16 if tile_overlap is None else int(tile_overlap)
    except ValueError:
        raise ModelError(f"{who}: pad and tile_overlap must be integers") from None
    if pad < 1 or overlap < 0 or (tile is not None and tile <= 0):
        raise ModelError(f"{who}: pad must be >= 1, tile > 0 and tile_overlap >= 0")
    if weights is None:
        raise ModelError(f"{who}: no weights: pass --weights '{who}=FILE' or ?weights=FILE "
                         "(?weights=none runs the class as it builds itself)")
    cls, code_sha = import_class(path)
    kwargs = typed_kwargs(cls, options, who)
    net_scale = 1 if pre_upsample else scale
    try:
        scale_params = [n for n in SCALE_PARAMETERS if n in inspect.signature(cls).parameters]
    except (TypeError, ValueError):
        scale_params = []
    given = [n for n in SCALE_PARAMETERS if n in kwargs]
    if not given and len(scale_params) == 1:
        kwargs[scale_params[0]] = net_scale
    for n in given:
        if kwargs[n] != net_scale:
            raise ModelError(f"{who}: {n}={kwargs[n]} but the run is at x{scale}"
                             + (" with pre_upsample (the network keeps the size: 1)" if pre_upsample else ""))
    try:
        net = cls(**kwargs)
    except Exception as exc:
        raise ModelError(f"{who}: {cls.__name__}(**{kwargs}) failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(net, nn.Module):
        raise ModelError(f"{who}: {cls.__name__}(...) returned {type(net).__name__}, not a torch.nn.Module")
    ckpt = None
    if str(weights).lower() != "none":
        ckpt = load_weights(net, str(weights), who)
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"{who}: invalid device {device!r} ({exc})") from exc
    net = net.eval().float().to(device)
    for p in net.parameters():
        p.requires_grad_(False)
    plain = input_range == 1 and order == "rgb"
    module: nn.Module = net if plain else Convention(net, input_range, order == "bgr")
    handling = ("Y of the MATLAB-bicubic-upsampled LR; CbCr bicubic" if y_only and pre_upsample else
                "Y of the LR; CbCr bicubic" if y_only else
                "RGB of the MATLAB-bicubic-upsampled LR" if pre_upsample else "RGB")
    extra = {"kind": "py", "code": path, "code_sha256": code_sha,
             "class": getattr(cls, "__qualname__", str(cls)),
             "kwargs": {k: v for k, v in kwargs.items()}, "input": handling, "input_range": input_range,
             "channel_order": order, "pad_multiple": pad, "run_dtype": "float32",
             "checkpoint_wrapper": ckpt.wrapper if ckpt else None,
             "checkpoint_prefix": ckpt.prefix if ckpt else None,
             "tile": tile, "tile_overlap": overlap if tile else None}
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    source = Path(path.rpartition(":")[0]).name
    info = ModelInfo(name=who, description=f"{extra['class']}({args}) from {source}",
                     weights=None if ckpt is None else str(weights),
                     weights_sha256=None if ckpt is None else file_sha256(ckpt.path),
                     params=int(sum(p.numel() for p in net.parameters())),
                     extra=extra)
    if y_only or pre_upsample:
        from srbench.models.files.checkpoint import PadCrop  # deferred: it imports safetensors, torch, tqdm

        inner = PadCrop(module, net_scale, 0, pad, False) if pad > 1 else module
        return PreUpsampleAdapter(who, scale, inner, device=device, y_only=y_only, pre_upsample=pre_upsample,
                                  info=info)
    from srbench.models.files.checkpoint import FileModel  # deferred: it imports safetensors, torch, tqdm

    return FileModel(who, scale, module, device=device, info=info, size_requirements=(0, pad, False),
                     tile=tile, tile_overlap=overlap)
