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
from srbench.markup import plain
from srbench.models.keras._tf import import_h5py, import_tensorflow, layer_classes
from srbench.models.keras.adapter import KerasAdapter
from srbench.models.keras.audit import audit_keras_file, audit_saved_model
from srbench.models.keras.seed import seed_file_adapter
from srbench.models.keras.seedfile import NotSeed, form_of, is_checkpoint, read_seed
from srbench.models.options import check_known, parse_bool, parse_int
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
            raise ModelError(f"{who}: cannot load the SavedModel {path}: {plain(str(exc)).strip()}") from exc
        sig = loaded.signatures.get("serving_default") if hasattr(loaded, "signatures") else None
        if sig is None:
            raise ModelError(f"{who}: SavedModel {path} has no 'serving_default' signature")
        _, inputs = sig.structured_input_signature
        if len(inputs) != 1:
            raise ModelError(f"{who}: SavedModel {path} takes {len(inputs)} inputs {sorted(inputs)}, "
                             "expected one image")
        key = next(iter(inputs))
        outputs = sig.structured_outputs
        if len(outputs) != 1:
            raise ModelError(f"{who}: SavedModel {path} has {len(outputs)} outputs {sorted(outputs)}, "
                             "expected one image")
        out_key = next(iter(outputs))

        def call(x: Any) -> Any:
            return sig(**{key: x})[out_key]

        return call, loaded, "tensorflow SavedModel"
    if path.suffix not in (".keras", ".h5"):
        raise ModelError(f"{who}: {path} must be a '.keras' file, a whole model saved as '.h5' "
                         "or a SavedModel directory")
    layer_classes()  # srbench's own layers (depth_to_space) load without Lambda
    if path.suffix == ".h5":
        try:
            with import_h5py(who).File(path, "r") as f:
                whole_model = "model_config" in f.attrs
        except OSError as exc:
            raise ModelError(f"{who}: {path} is not a readable HDF5 file ({exc})") from exc
        if not whole_model:
            raise ModelError(
                f"{who}: {path} holds weights only (no model config), and they are not the seed article's "
                "generator (the one architecture srbench can rebuild from weights alone); save the whole model."
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
                "models with safe_mode. Its weights are not the seed article's generator either (srbench would "
                "rebuild that one itself). Load it with keras:PATH?safe_mode=false only if you trust the file, or "
                f"replace the Lambda layers by serialisable ones (Rescaling, a registered layer). Keras said: "
                f"{plain(text).strip()}"
            ) from exc
        if "Could not locate function" in text:  # a Lambda calling a named function of the saving script
            raise ModelError(
                f"{who}: {path} has a Lambda layer calling a Python function that only the script which saved it "
                "defines, and its weights are not the seed article's generator (which srbench rebuilds itself); "
                f"srbench cannot evaluate it. Export it as a SavedModel (model.export(DIR)). Keras said: "
                f"{plain(text).strip()}"
            ) from exc
        raise ModelError(f"{who}: cannot load Keras model {path}: {plain(text).strip()}") from exc

    def call(x: Any) -> Any:
        return model(x, training=False)

    return call, model, "keras .keras" if path.suffix == ".keras" else "keras .h5 (whole model)"


def _params(obj: Any) -> int | None:
    variables = getattr(obj, "trainable_weights", None) or getattr(obj, "trainable_variables", None)
    if not variables:
        return None
    return int(sum(math.prod(int(d) for d in v.shape) for v in variables))


OPTIONS = {"input_range": "0-255 (default) or 0-1: the range the model takes",
           "output_range": "0-255 or 0-1: the range it returns (default: input_range)",
           "tile_overlap": "integer >= 0: LR pixels of context around each tile (with --tile; default 16)",
           "safe_mode": "true (default) or false: false runs the file's Lambda code (trusted files only)",
           "step": "N: the ckpt-N of a tf.train.Checkpoint folder (default: the latest)",
           "trust": "false (default) or true: skip the inspection of the file's ops and layers",
           "tile": "integer >= 1: LR tile size (also --tile)"}
KNOWN_OPTIONS = tuple(OPTIONS)


def build(scale: int, *, path: str | os.PathLike[str], device: str = "cpu", input_range: Any = "0-255",
          output_range: Any = None, tile: Any = None, tile_overlap: Any = None, safe_mode: Any = True,
          step: Any = None, trust: Any = False, **options: Any) -> KerasAdapter:
    """The ``keras:PATH`` adapter for a saved Keras SR model mapping NHWC LR to NHWC SR ``scale`` times larger.

    ``PATH``: a ``.keras`` file, a whole model or weights in ``.h5`` / ``.weights.h5``, a SavedModel folder, or
    a ``tf.train.Checkpoint`` folder or ``ckpt-N`` prefix (``step=N`` chooses ``ckpt-N`` in a folder; default
    the latest). Whatever the container, weights that are the seed article's generator
    (:mod:`srbench.models.keras.seedfile`) are evaluated with srbench's builder of it, with one notice;
    anything else is loaded as the model it is (SavedModel; ``.keras`` / whole ``.h5`` in Keras' safe mode).

    ``input_range``: the range the model expects its input in, ``"0-255"`` (default) or ``"0-1"``;
    ``output_range``: the range of its output (default: same as the input). ``tile``: run on LR tiles of
    this size with ``tile_overlap`` LR pixels of context (default 16; exact only when the overlap covers the
    model's receptive field, which srbench knows for the seed generator and uses). ``safe_mode=false``
    allows Lambda layers of other models (runs the file's code: trusted files only); ``trust=true``
    (``?trust=true``) skips the inspection of the file's ops and layers (:mod:`srbench.models.keras.audit`;
    trusted files only). Options arrive as strings (``?safe_mode=false``) and are parsed before TensorFlow is
    imported. Errors are ModelError naming ``keras:PATH``.
    """
    who = f"{KIND}:{path}"
    check_known(options, KNOWN_OPTIONS, who, "; the weights are the file itself")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ModelError(f"{who}: scale must be a positive integer, got {scale!r}")
    tile = parse_int(tile, "tile", who, minimum=1, optional=True)
    overlap = parse_int(tile_overlap, "tile_overlap", who, optional=True)
    step = parse_int(step, "step", who, optional=True)
    safe = parse_bool(safe_mode, "safe_mode", who)
    in_max = parse_range(input_range, "input_range", who)
    out_max = in_max if output_range is None else parse_range(output_range, "output_range", who)
    p = Path(path)
    if not p.exists() and not is_checkpoint(p):
        raise ModelError(f"{who}: {p} not found")
    form = form_of(p)
    if form is None and p.is_dir():
        raise ModelError(f"{who}: {p} is a directory without saved_model.pb (not a SavedModel) and without a "
                         "'checkpoint' or ckpt-N.index file (not a tf.train.Checkpoint)")
    if form is None:
        raise ModelError(f"{who}: {p} must be a '.keras' file, a '.h5' / '.weights.h5' file, a SavedModel folder "
                         "or a tf.train.Checkpoint folder (or ckpt-N prefix)")
    if step is not None and form != "checkpoint":
        raise ModelError(f"{who}: step= chooses a ckpt-N of a tf.train.Checkpoint folder; {p.name} is not one")
    if form != "savedmodel":
        try:
            found = read_seed(p, step=step)
        except NotSeed as exc:
            if form in ("checkpoint", "weights.h5"):  # weights only: nothing else srbench could build
                raise ModelError(f"{who}: {exc}") from exc
        else:
            if (in_max, out_max) != (255.0, 255.0):
                raise ModelError(f"{who}: the article's generator takes and returns [0, 255]; "
                                 "input_range/output_range do not apply to it")
            return seed_file_adapter(found, who, int(scale), device=device, tile=tile, tile_overlap=overlap)
    tf, keras = import_tensorflow(who)
    trusted = parse_trust(trust, who)
    call, model, fmt = _load(p, keras, tf, who, safe, trusted)
    overlap = 16 if overlap is None else overlap
    info = ModelInfo(
        name=who,
        description=f"Keras model {p.name} ({fmt}) x{int(scale)}",
        weights=str(p),
        weights_sha256=path_sha256(p),
        params=_params(model),
        extra={"framework": f"tensorflow {tf.__version__}, keras {keras.__version__}", "format": fmt,
               "layout": "NHWC inside, NCHW at the boundary", "input_range": _range_label(in_max),
               "output_range": _range_label(out_max), "tile": tile, "tile_overlap": overlap if tile else None,
               "safe_mode": safe, "trust": trusted},
    )
    adapter = KerasAdapter(who, int(scale), call, device=device, info=info, input_max=in_max, output_max=out_max,
                           tile=tile, tile_overlap=overlap, keras_model=model)
    adapter.probe()
    return adapter
