"""Model registry: an explicit table of built-ins plus the ``srbench.models`` entry-point group.

Listing imports nothing: entries are lazy ``"module:attr"`` strings naming a factory with the signature
``build(scale: int, *, device: str = "cpu", weights: str | None = None, tile: int | None = None,
**options) -> SRModel``. A plugin never shadows a built-in: a clash is reported and the built-in wins.

Models a user brings as a file are named ``KIND:PATH`` (``file:esrgan.pth``, ``onnx:model.onnx``,
``keras:gen.keras``, ``py:arch.py:Net``): ``PATH_KINDS`` maps each kind to a factory called as
``build(scale, *, path: str, device: str = "cpu", **options) -> SRModel``.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from srbench.interfaces import ModelError, SRModel

ENTRY_POINT_GROUP = "srbench.models"

BUILTIN: dict[str, tuple[str, str]] = {
    "bicubic": ("srbench.models.bicubic:build", "MATLAB-compatible bicubic upscaling (imresize)"),
    "srresnet": ("srbench.models.srresnet:build_srresnet", "SRResNet-MSE (Ledig et al. 2017), PyTorch"),
    "srgan": ("srbench.models.srresnet:build_srgan", "SRGAN generator (Ledig et al. 2017), PyTorch"),
    "keras-srresnet": ("srbench.models.keras.srresnet:build",
                       "SRResNet in TensorFlow/Keras (needs the tensorflow extra)"),
    "keras-srgan": ("srbench.models.keras.seed:build",
                    "the Keras SRGAN seed code's generator x2/x4/x8; loads its .h5 weights (tensorflow extra)"),
    "seed-srgan": ("srbench.models.seed_srgan:build",
                   "the Keras SRGAN seed generator rebuilt in PyTorch (weights from srbench convert)"),
}

# KIND -> "module:attr" of the factory for ``KIND:PATH`` model names (a model file the user brings).
PATH_KINDS: dict[str, tuple[str, str]] = {
    "file": ("srbench.models.files.checkpoint:build",
             "a checkpoint (.pth/.pt/.ckpt/.safetensors) of a known architecture, detected with spandrel"),
    "onnx": ("srbench.models.files.onnx:build", "an ONNX model run with onnxruntime (needs the onnx extra)"),
    "py": ("srbench.models.files.pyclass:build",
           "your network code + weights: py:FILE.py:Class?arg=value (or py:package.module:Class), --weights"),
    "keras": ("srbench.models.keras.saved:build",
              "a saved Keras SR model: .keras, whole-model .h5 or SavedModel directory (tensorflow extra)"),
}


def split_options(path: str) -> tuple[str, dict[str, str]]:
    """``("m.onnx", {"input_range": "255"})`` for ``"m.onnx?input_range=255"``: options of a ``KIND:PATH`` model.

    Options follow the path after ``?`` as ``key=value`` pairs joined by ``&`` (a URL's query string);
    values stay strings (each factory converts and checks its own). A path without ``?`` has no options.
    """
    base, sep, query = path.partition("?")
    if not sep:
        return path, {}
    options: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ModelError(f"model {path!r}: option {item!r} is not KEY=VALUE (form: KIND:PATH?key=value&key=value)")
        options[key.strip()] = value.strip()
    return base, options


def split_path_kind(name: str) -> tuple[str, str] | None:
    """``("file", "x.pth")`` for ``"file:x.pth"``; None when ``name`` is not of a known ``KIND:PATH`` form."""
    kind, sep, path = name.partition(":")
    if sep and kind in PATH_KINDS and path:
        return kind, path
    return None


def _plugins() -> dict[str, str]:
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTIN:
            warnings.warn(
                f"plugin model {ep.name!r} ({ep.value}) clashes with a built-in and is ignored",
                stacklevel=2,
            )
            continue
        found[ep.name] = ep.value
    return found


def list_models() -> dict[str, str]:
    """Name -> ``"module:attr"`` of every known model; imports none of them."""
    table = {name: target for name, (target, _) in BUILTIN.items()}
    table.update(_plugins())
    return table


def describe_models() -> dict[str, str]:
    """Name -> one-line description (plugins: their target)."""
    out = {name: desc for name, (_, desc) in BUILTIN.items()}
    out.update({name: f"plugin: {target}" for name, target in _plugins().items()})
    return out


def resolve(name: str) -> str:
    """The factory target of ``name``; an unknown name fails with the known names and a suggestion."""
    table = list_models()
    if name in table:
        return table[name]
    kinded = split_path_kind(name)
    if kinded is not None:
        return PATH_KINDS[kinded[0]][0]
    close = difflib.get_close_matches(name, table, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    kinds = "".join(f", {kind}:PATH" for kind in sorted(PATH_KINDS))
    raise ModelError(f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(table))}{kinds}.")


def load_factory(name: str) -> Any:
    target = resolve(name)
    module, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # a broken plugin must not take the harness down
        raise ModelError(f"model {name!r}: cannot load {target}: {exc}") from exc
    return obj


def get_model(name: str, scale: int, device: str = "cpu", **options: Any) -> SRModel:
    """Build the adapter ``name`` for ``scale`` on ``device``; ``options`` go to its factory."""
    factory = load_factory(name)
    kinded = split_path_kind(name)
    if kinded is not None and name not in list_models():
        path, path_options = split_options(kinded[1])
        options = {**options, **path_options, "path": path}
    try:
        model = factory(scale, device=device, **options)
    except SystemExit as exc:  # research code calling argparse.parse_args() or sys.exit in its constructor
        raise ModelError(f"model {name!r}: its factory called sys.exit({exc.code!r}) while being built "
                         f"({_target_of(name)}); a factory must raise an exception, not exit") from None
    if not isinstance(model, SRModel):
        raise ModelError(f"model {name!r}: factory returned {type(model).__name__}, which is not an SRModel")
    if getattr(model, "scale", scale) != scale:
        raise ModelError(f"model {name!r} was asked for x{scale} but says it is x{model.scale}")
    return model


def _target_of(name: str) -> str:
    try:
        return resolve(name)
    except ModelError:
        return name


def kind_options(target: str) -> dict[str, str]:
    """The options a ``KIND:PATH`` kind's factory takes after ``?`` (its module's ``OPTIONS``: name -> what it
    takes), for ``srbench models list --options``. Imports the kind's module."""
    module, _, _ = target.partition(":")
    return dict(getattr(importlib.import_module(module), "OPTIONS", {}))


def build_models(labelled: Sequence[tuple[str, str]], scales: Sequence[int], *, device: str = "cpu",
                 weights: Mapping[str, str] | None = None, tile: int | None = None,
                 building: Callable[[str], None] | None = None) -> dict[int, dict[str, SRModel]]:
    """``{scale: {label: model}}`` for (label, spec) pairs at every scale, every one built before anything runs.

    ``weights`` maps a label (or a spec) to its weights file. Every model is tried, so that one ModelError names
    every model that cannot be built, with its file and the problem. ``building("srgan x4")`` is called before
    each (the progress line).
    """
    weights = dict(weights or {})
    models: dict[int, dict[str, SRModel]] = {}
    failed: list[str] = []
    for scale in scales:
        models[scale] = {}
        for label, spec in labelled:
            path = weights.get(label, weights.get(spec))  # --weights LABEL=PATH (or the spec itself)
            options: dict[str, Any] = {"weights": path} if path else {}
            if tile:
                options["tile"] = tile
            if building is not None:
                building(f"{label} x{scale}")
            try:
                models[scale][label] = get_model(spec, scale, device=device, **options)
            except Exception as exc:  # every model is tried, so that one message names every problem
                failed.append(f"{label if label == spec else f'{label} ({spec})'} at x{scale}: {exc}")
    if failed:
        raise ModelError("cannot build model " + "; cannot build model ".join(failed) + " (nothing was run)")
    return models
