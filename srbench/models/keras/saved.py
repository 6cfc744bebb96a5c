"""``keras:PATH``: any saved Keras SR model (``.keras``, a whole model in ``.h5``, a SavedModel directory),
behind srbench's SRModel protocol.

The harness speaks float32 RGB NCHW torch tensors in [0, 1]. Inside, the adapter runs one compiled
``tf.function`` (traced once for any image size) on NHWC float32 in the model's own ``input_range``
(``[0, 255]`` by default, as the seed SRGAN code and most Keras tutorials use; ``[0, 1]`` possible) and maps
the output back from ``output_range`` (default: the input range). The first call at build time (an 8x8
probe) checks that the model really upscales by the requested scale and returns 3 channels.

Loading is checked by default. A SavedModel runs no Python, but its TensorFlow ops could read and write
files: before loading one, :mod:`srbench.models.keras.audit` reads ``saved_model.pb`` and refuses any op
outside an allow-list of what SR models use (checkpoint ops only in TensorFlow's own saver functions). A
``.keras`` / ``.h5`` config may name only Keras' own modelling layers and srbench's registered ones, and is
loaded with Keras' ``safe_mode=True``, which refuses ``Lambda`` layers (their Python bytecode would run on
load). ``safe_mode=False`` allows Lambda code and ``trust=true`` skips the inspection: explicit opt-ins for
files you trust. TensorFlow is the optional extra ``srbench[tensorflow]``, imported lazily through
``srbench.models.keras._tf`` (which also orders triton before TensorFlow). The adapter class is
:class:`srbench.models.keras.adapter.KerasAdapter`, shared by every Keras adapter.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from srbench.files import file_sha256
from srbench.interfaces import ModelError, ModelInfo
from srbench.models.keras._tf import import_h5py, import_tensorflow, layer_classes
from srbench.models.keras.adapter import KerasAdapter
from srbench.models.keras.audit import audit_keras_file, audit_saved_model
from srbench.models.trust import parse_trust

KIND = "keras"
RANGES = {"0-255": 255.0, "0-1": 1.0}


def parse_range(value: Any, option: str, who: str) -> float:
    """The top of a value range: ``"0-255"``, ``"[0, 255]"``, ``255``, ``(0, 255)`` -> 255.0; same for 1."""
    text = value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        text = f"{value[0]}-{value[1]}"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = f"0-{value:g}"
    if isinstance(text, str):
        key = text.strip().strip("[]()").replace(",", "-").replace(" ", "")
        key = key.replace("0.0-", "0-").replace("-255.0", "-255").replace("-1.0", "-1")
        if key in RANGES:
            return RANGES[key]
    raise ModelError(f"{who}: {option} must be [0, 255] or [0, 1] (e.g. '0-255', '0-1'), got {value!r}")


def _range_label(top: float) -> str:
    return f"[0, {top:g}]"


def path_sha256(path: Path) -> str:
    """sha256 of a file, or of a directory's files (relative names and contents, sorted)."""
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(p.relative_to(path).as_posix().encode("utf-8") + b"\0" + file_sha256(p).encode("ascii"))
    return h.hexdigest()


def _load(path: Path, keras: Any, tf: Any, who: str, safe_mode: bool,
          trust: bool = False) -> tuple[Callable[[Any], Any], Any, str]:
    """(call, keras model or None, format) for a saved model at ``path``, inspected first unless ``trust``."""
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ModelError(f"{who}: {path} is a directory without saved_model.pb (not a SavedModel)")
        if not trust:
            audit_saved_model(path, who)
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:
            raise ModelError(f"{who}: cannot load the SavedModel {path}: {str(exc)[:300]}") from exc
        sig = loaded.signatures.get("serving_default") if hasattr(loaded, "signatures") else None
        if sig is None:
            raise ModelError(f"{who}: SavedModel {path} has no 'serving_default' signature")
        _, inputs = sig.structured_input_signature
        if len(inputs) != 1:
            raise ModelError(f"{who}: SavedModel {path} takes {len(inputs)} inputs {sorted(inputs)}, expected one image")
        key = next(iter(inputs))
        outputs = sig.structured_outputs
        if len(outputs) != 1:
            raise ModelError(f"{who}: SavedModel {path} has {len(outputs)} outputs {sorted(outputs)}, expected one image")
        out_key = next(iter(outputs))

        def call(x: Any) -> Any:
            return sig(**{key: x})[out_key]

        return call, loaded, "tensorflow SavedModel"
    if path.suffix not in (".keras", ".h5"):
        raise ModelError(f"{who}: {path} must be a '.keras' file, a whole model saved as '.h5' or a SavedModel directory")
    layer_classes()  # srbench's own layers (depth_to_space) load without Lambda
    if path.suffix == ".h5":
        try:
            with import_h5py(who).File(path, "r") as f:
                whole_model = "model_config" in f.attrs
        except OSError as exc:
            raise ModelError(f"{who}: {path} is not a readable HDF5 file ({exc})") from exc
        if not whole_model:
            raise ModelError(
                f"{who}: {path} holds weights only (no model config). For the seed SRGAN generator use "
                "--models keras-srgan --weights keras-srgan=<file>.h5; else save the whole model."
            )
    if not trust:
        audit_keras_file(path, who)
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=safe_mode)
    except Exception as exc:
        text = str(exc)
        if safe_mode and "safe_mode" in text:  # Keras' refusal to deserialise a Lambda's bytecode
            raise ModelError(
                f"{who}: {path} contains a Lambda layer, whose Python code would run on load; srbench loads "
                "models with safe_mode. Load it with safe_mode=False only if you trust the file, or replace "
                "the Lambda layers by serialisable ones (Rescaling, a registered layer)."
            ) from exc
        raise ModelError(f"{who}: cannot load Keras model {path}: {' '.join(text.splitlines()[:3])[:400]}") from exc

    def call(x: Any) -> Any:
        return model(x, training=False)

    return call, model, "keras .keras" if path.suffix == ".keras" else "keras .h5 (whole model)"


def _params(obj: Any) -> int | None:
    variables = getattr(obj, "trainable_weights", None) or getattr(obj, "trainable_variables", None)
    if not variables:
        return None
    return int(sum(math.prod(int(d) for d in v.shape) for v in variables))


def build(scale: int, *, path: str | os.PathLike[str], device: str = "cpu", input_range: Any = "0-255",
          output_range: Any = None, tile: int | None = None, tile_overlap: int = 16, safe_mode: bool = True,
          trust: Any = False, **options: Any) -> KerasAdapter:
    """The ``keras:PATH`` adapter for a saved Keras SR model mapping NHWC LR to NHWC SR ``scale`` times larger.

    ``input_range``: the range the model expects its input in, ``"0-255"`` (default) or ``"0-1"``;
    ``output_range``: the range of its output (default: same as the input). ``tile``: run on LR tiles of
    this size with ``tile_overlap`` LR pixels of context (exact only when the overlap covers the model's
    receptive field, which srbench cannot know for a foreign model). ``safe_mode=False`` allows Lambda
    layers (runs the file's code: trusted files only); ``trust=True`` (``?trust=true``) skips the inspection
    of the file's ops and layers (:mod:`srbench.models.keras.audit`; trusted files only). Errors are
    ModelError naming ``keras:PATH``.
    """
    who = f"{KIND}:{path}"
    if options:
        raise ModelError(f"{who}: unknown options {sorted(options)} (known: input_range, output_range, tile, "
                         "tile_overlap, safe_mode, trust; weights are the file itself)")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ModelError(f"{who}: scale must be a positive integer, got {scale!r}")
    if isinstance(tile_overlap, bool) or not isinstance(tile_overlap, int) or tile_overlap < 0:
        raise ModelError(f"{who}: tile_overlap must be >= 0 LR pixels, got {tile_overlap!r}")
    in_max = parse_range(input_range, "input_range", who)
    out_max = in_max if output_range is None else parse_range(output_range, "output_range", who)
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{who}: {p} not found")
    tf, keras = import_tensorflow(who)
    trusted = parse_trust(trust, who)
    call, model, fmt = _load(p, keras, tf, who, bool(safe_mode), trusted)
    info = ModelInfo(
        name=who,
        description=f"Keras model {p.name} ({fmt}) x{int(scale)}",
        weights=str(p),
        weights_sha256=path_sha256(p),
        params=_params(model),
        extra={"framework": f"tensorflow {tf.__version__}, keras {keras.__version__}", "format": fmt,
               "layout": "NHWC inside, NCHW at the boundary", "input_range": _range_label(in_max),
               "output_range": _range_label(out_max), "tile": tile, "tile_overlap": tile_overlap if tile else None,
               "safe_mode": bool(safe_mode), "trust": trusted},
    )
    adapter = KerasAdapter(who, int(scale), call, device=device, info=info, input_max=in_max, output_max=out_max,
                           tile=tile, tile_overlap=tile_overlap, keras_model=model)
    adapter.probe()
    return adapter
