"""Recognise the seed article's SRResNet generator from its weights, whatever the container it was saved in.

The article (``build_srresnet``: ``Lambda(normalize_01)`` in, residual blocks, ``Lambda(pixel_shuffle)``
through ``tf.nn.depth_to_space``, ``PReLU(shared_axes=[1, 2])``, ``tanh`` and ``Lambda(denormalize_m11)``
out) is saved by its readers in one of these forms, each read here without running the file's code:

- ``gen.keras`` (``model.save``): a zip of ``config.json`` and ``model.weights.h5``;
- ``gen.h5`` (``model.save``, legacy whole model): ``model_config`` + ``model_weights`` with ``layer_names``;
- ``gen.weights.h5`` (Keras 3 ``save_weights``): ``layers/<class name>_<k>/vars/<i>``, where ``k`` counts the
  layers of that class in the model's topological order (Keras 3 names them by class, not by layer name);
- a legacy weights ``.h5`` (Keras 2 ``save_weights``): ``layer_names`` in topological order;
- a ``tf.train.Checkpoint`` folder (``CheckpointManager``: ``checkpoint``, ``ckpt-N.index``, ``ckpt-N.data-*``)
  or one ``ckpt-N`` prefix, holding the generator beside a discriminator, optimisers, step and psnr: read
  through ``tf.train.load_checkpoint`` and the object graph's names (``generator/_operations/<k>/_kernel``,
  Keras 2's ``layer_with_weights-<k>/kernel``); every root object is tried, the one that fits is taken.

The variables are matched by name and shape to the seed generator (any number of residual blocks, x2/x4/x8:
:func:`srbench.models.keras.convert.detect_layout`); a model config, where the file has one, is checked too
(only the article's layer kinds, 'same' stride-1 convolutions, per-channel PReLU, BN epsilon 1e-3, tanh last,
Lambda layers only where the article has them). The caller evaluates the weights with srbench's own builder,
which defines the article's Lambda functions (:func:`srbench.models.keras.seed.build_generator`).
Everything except the checkpoint needs only h5py; the checkpoint needs TensorFlow (imported when called).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srbench.files import file_sha256
from srbench.interfaces import ModelError
from srbench.models.archs.geometry import upsample_stages
from srbench.models.keras._tf import import_h5py
from srbench.models.keras.convert import KerasLayers, SeedLayout, detect_layout, read_keras_h5

KERAS3_KINDS = ("conv2d", "batch_normalization", "p_re_lu")  # Keras 3's class-based names in weights files
VAR_ORDER = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "alpha")
# Lambda functions of the article, by name (a named function is stored by name in the model config)
ARTICLE_FUNCTIONS = {"normalize_01", "denormalize_m11", "pixel_shuffle", "<lambda>"}
CKPT_RE = re.compile(r"^(?P<stem>.+)-(?P<n>\d+)$")


class NotSeed(ModelError):
    """The file is readable, but what it holds is not the seed generator; the message says why."""


@dataclass(frozen=True)
class SeedFile:
    """The seed generator's weights found in ``path`` (topological order, Keras layout), and where."""

    path: Path
    form: str  # e.g. "Keras 3 .weights.h5", "tf.train.Checkpoint ckpt-2 (generator)"
    layers: KerasLayers
    layout: SeedLayout
    details: str = ""  # e.g. "step 1200, psnr 27.31" for a checkpoint

    def format_label(self) -> str:
        """The format as srbench's model records name it (``keras .keras``, ``keras .h5`` ... first)."""
        labels = {".keras model": "keras .keras", "whole-model .h5": "keras .h5 (whole model)",
                  "legacy weights .h5": "keras .h5 (legacy weights)", "Keras 3 .weights.h5": "keras .weights.h5"}
        return f"{labels.get(self.form, self.form)}, the article's generator"

    def notice(self) -> str:
        """The one line a user reads about it."""
        extra = f" ({self.details})" if self.details else ""
        return (f"{self.path.name}: the article's SRResNet generator, {self.layout.n_blocks} blocks, "
                f"x{self.layout.scale}; weights read from the {self.form}{extra}, Lambda layers rebuilt by srbench")


# --------------------------------------------------------------------------------------------- forms


def is_checkpoint(path: Path) -> bool:
    """A tf.train.Checkpoint folder (``checkpoint`` file or ``*.index`` files) or a ``ckpt-N`` prefix."""
    if path.is_dir():
        return (path / "checkpoint").is_file() or any(path.glob("*.index"))
    return not path.exists() and Path(f"{path}.index").is_file()


def form_of(path: Path) -> str | None:
    """The Keras form of ``path`` by its name and container (no content read), or None if none applies."""
    if is_checkpoint(path):
        return "checkpoint"
    if path.is_dir():
        return "savedmodel" if (path / "saved_model.pb").is_file() else None
    name = path.name.lower()
    if name.endswith(".weights.h5"):
        return "weights.h5"
    if name.endswith(".keras"):
        return "keras"
    if name.endswith((".h5", ".hdf5")):
        return "h5"
    return None


def checkpoint_prefix(path: Path, step: int | None = None) -> str:
    """The ``ckpt-N`` prefix to read: ``path`` itself, ``ckpt-<step>``, or the folder's latest (its
    ``checkpoint`` file, else the highest N). ModelError naming what exists when the step is not there."""
    if not path.is_dir():
        if step is not None:
            raise ModelError(f"{path}: step={step} chooses a checkpoint in a folder; {path.name} is one already")
        return str(path)
    prefixes = sorted({p.name[: -len(".index")] for p in path.glob("*.index")},
                      key=lambda s: (int(m["n"]) if (m := CKPT_RE.match(s)) else -1, s))
    if step is not None:
        hits = [p for p in prefixes if (m := CKPT_RE.match(p)) and int(m["n"]) == step]
        if not hits:
            raise ModelError(f"{path}: no checkpoint for step={step} (found: {', '.join(prefixes) or 'none'})")
        return str(path / hits[-1])
    state = path / "checkpoint"
    if state.is_file():
        m = re.search(r'^model_checkpoint_path:\s*"([^"]+)"', state.read_text(errors="replace"), re.M)
        if m and Path(path / f"{Path(m[1]).name}.index").is_file():
            return str(path / Path(m[1]).name)
    if not prefixes:
        raise ModelError(f"{path}: a checkpoint folder without any ckpt-N.index file")
    return str(path / prefixes[-1])


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, of a folder's files (relative names and contents, sorted), or of the files
    of a ``ckpt-N`` prefix."""
    files = ([path] if path.is_file() else sorted(q for q in path.rglob("*") if q.is_file()) if path.is_dir()
             else sorted(path.parent.glob(f"{path.name}.*")))
    root = path.parent if path.is_file() or not path.is_dir() else path
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(root).as_posix().encode("utf-8") + b"\0" + file_sha256(p).encode("ascii"))
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ readers


def _keras3_weights(f: Any, where: str) -> KerasLayers:
    """Weighted layers of a Keras 3 weights file (``layers/<class>_<k>/vars/<i>``), in the seed's order."""
    if "layers" not in f:
        raise NotSeed(f"{where}: no 'layers' group: not a Keras 3 weights file")
    groups: dict[str, list[tuple[int, str, list[np.ndarray]]]] = {k: [] for k in KERAS3_KINDS}
    for name in f["layers"]:
        vars_ = f["layers"][name].get("vars")
        arrays = [np.asarray(vars_[k]) for k in sorted(vars_, key=int)] if vars_ is not None else []
        if not arrays:
            continue
        m = re.match(r"^(?P<kind>[a-z_0-9]+?)(?:_(?P<k>\d+))?$", name)
        kind = m["kind"] if m else name
        if kind not in groups:
            raise NotSeed(f"{where}: layer {name!r} with weights is not a Conv2D, BatchNormalization or PReLU "
                          "(the seed generator has no other weighted layers)")
        groups[kind].append((int(m["k"] or 0) if m else 0, name, arrays))
    convs, bns, prelus = (sorted(groups[k]) for k in KERAS3_KINDS)
    n_blocks, odd = divmod(len(bns) - 1, 2)
    n_up = len(prelus) - 1 - n_blocks
    if odd or n_blocks < 1 or n_up not in (1, 2, 3) or len(convs) != 3 + 2 * n_blocks + n_up:
        raise NotSeed(f"{where}: {len(convs)} Conv2D, {len(bns)} BatchNormalization and {len(prelus)} PReLU layers "
                      "do not make a seed generator (3 + 2B + U, 2B + 1 and 1 + B + U for B residual blocks and "
                      "U = 1, 2, 3 upsampling blocks)")
    order = [convs[0], prelus[0]]
    for b in range(n_blocks):
        order += [convs[1 + 2 * b], bns[2 * b], prelus[1 + b], convs[2 + 2 * b], bns[2 * b + 1]]
    order += [convs[1 + 2 * n_blocks], bns[2 * n_blocks]]
    for u in range(n_up):
        order += [convs[2 + 2 * n_blocks + u], prelus[1 + n_blocks + u]]
    order.append(convs[-1])
    return [(name, arrays) for _, name, arrays in order]


def _check_config(config: Any, where: str) -> int:
    """Check a Keras model config against the article's generator; returns its number of Lambda layers."""
    cfg = config.get("config", config) if isinstance(config, dict) else None
    layers = cfg.get("layers") if isinstance(cfg, dict) else None
    if not isinstance(layers, list):
        raise NotSeed(f"{where}: the model config is not a functional model's")
    allowed = {"InputLayer", "Lambda", "Rescaling", "DepthToSpace", "Conv2D", "BatchNormalization", "PReLU", "Add"}
    convs = [la for la in layers if la.get("class_name") == "Conv2D"]
    lambdas = 0
    for la in layers:
        cls, c = la.get("class_name"), la.get("config") or {}
        if cls not in allowed:
            raise NotSeed(f"{where}: layer {c.get('name', '?')!r} is a {cls}, which the seed generator does not have")
        if cls == "Conv2D":
            act = c.get("activation")
            want_act = "tanh" if la is convs[-1] else "linear"
            if (c.get("padding") != "same" or list(c.get("strides", [1, 1])) != [1, 1] or act != want_act
                    or list(c.get("dilation_rate", [1, 1])) != [1, 1] or c.get("groups", 1) != 1):
                raise NotSeed(f"{where}: Conv2D {c.get('name')!r} (padding {c.get('padding')!r}, strides "
                              f"{c.get('strides')}, activation {act!r}) differs from the seed generator's")
        elif cls == "PReLU" and sorted(c.get("shared_axes") or []) != [1, 2]:
            raise NotSeed(f"{where}: PReLU {c.get('name')!r} has shared_axes {c.get('shared_axes')}, the seed "
                          "generator's are [1, 2] (one slope per channel)")
        elif cls == "BatchNormalization" and not np.isclose(float(c.get("epsilon", 1e-3)), 1e-3):
            raise NotSeed(f"{where}: BatchNormalization {c.get('name')!r} has epsilon {c.get('epsilon')}, "
                          "the seed generator's is 1e-3")
        elif cls == "Lambda":
            lambdas += 1
            fn = c.get("function")
            name = fn.get("config") if isinstance(fn, dict) and fn.get("class_name") == "function" else None
            if isinstance(name, str) and name not in ARTICLE_FUNCTIONS:
                raise NotSeed(f"{where}: Lambda {c.get('name')!r} calls {name!r}, not one of the article's "
                              f"functions ({', '.join(sorted(ARTICLE_FUNCTIONS - {'<lambda>'}))})")
    return lambdas


def _read_keras_zip(path: Path) -> tuple[KerasLayers, Any]:
    h5py = import_h5py(str(path))
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            blob = z.read("model.weights.h5")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable .keras file ({exc})") from exc
    with h5py.File(io.BytesIO(blob), "r") as f:
        return _keras3_weights(f, str(path)), config


def _read_h5(path: Path) -> tuple[KerasLayers, Any, str]:
    """(layers, model config or None, form) of any Keras HDF5 file."""
    h5py = import_h5py(str(path))
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if "layers" in f and "layer_names" not in f.attrs:
                return _keras3_weights(f, str(path)), None, "Keras 3 .weights.h5"
    except NotSeed:
        raise
    except Exception as exc:  # h5py raises OSError/KeyError/... for corrupt or foreign files
        raise ModelError(f"{path}: not a readable Keras HDF5 file ({exc})") from exc
    layers = read_keras_h5(path)
    if raw is None:
        return layers, None, "legacy weights .h5"
    config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    return layers, config, "whole-model .h5"


def _checkpoint_models(prefix: str) -> tuple[dict[str, KerasLayers], dict[str, float]]:
    """Weighted layers of every root object of a checkpoint that looks like a Keras model, and its scalars."""
    from srbench.models.keras._tf import import_tensorflow  # deferred: it loads tensorflow

    tf, _ = import_tensorflow(f"checkpoint {prefix}")
    from tensorflow.core.protobuf import trackable_object_graph_pb2  # deferred: part of tensorflow

    try:
        reader = tf.train.load_checkpoint(prefix)
        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    except Exception as exc:
        raise ModelError(f"{prefix}: not a readable tf.train.Checkpoint ({' '.join(str(exc).split())})") from exc
    nodes = graph.nodes

    def value(node_id: int) -> np.ndarray | None:
        for a in nodes[node_id].attributes:
            if a.name == "VARIABLE_VALUE":
                return np.asarray(reader.get_tensor(a.checkpoint_key))
        return None

    def children(node_id: int) -> dict[str, int]:
        return {c.local_name: c.node_id for c in nodes[node_id].children}

    def layer_arrays(node_id: int) -> list[np.ndarray]:
        found = {name.lstrip("_"): cid for name, cid in children(node_id).items()}
        return [v for key in VAR_ORDER if key in found and (v := value(found[key])) is not None]

    models: dict[str, KerasLayers] = {}
    scalars: dict[str, float] = {}
    for name, nid in children(0).items():
        kids = children(nid)
        indexed: list[tuple[int, str, int]] = []
        if "_operations" in kids:  # Keras 3
            indexed = [(int(k), f"{name}/_operations/{k}", cid) for k, cid in children(kids["_operations"]).items()
                       if k.isdigit()]
        else:  # Keras 2 (tf.keras): layer_with_weights-<k>
            indexed = [(int(k.rsplit("-", 1)[1]), f"{name}/{k}", cid) for k, cid in kids.items()
                       if k.startswith("layer_with_weights-")]
        layers = [(lname, arrays) for _, lname, cid in sorted(indexed) if (arrays := layer_arrays(cid))]
        if layers:
            models[name] = layers
        elif (v := value(nid)) is not None and v.size == 1:
            scalars[name] = float(v.reshape(-1)[0])
    return models, scalars


def _read_checkpoint(path: Path, step: int | None) -> SeedFile:
    prefix = checkpoint_prefix(path, step)
    models, scalars = _checkpoint_models(prefix)
    reasons = []
    for name in sorted(models, key=lambda n: (n not in ("generator", "model", "gen", "net_g"), n)):
        try:
            layout = detect_layout(models[name], f"{prefix}:{name}")
        except ModelError as exc:
            reasons.append(str(exc))
            continue
        details = ", ".join(f"{k} {v:g}" for k, v in scalars.items() if k in ("step", "psnr"))
        return SeedFile(path, f"tf.train.Checkpoint {Path(prefix).name} ('{name}')", models[name], layout, details)
    what = ", ".join(sorted(models)) or "no Keras model"
    raise NotSeed(f"{prefix}: none of the checkpoint's models ({what}) is the seed generator"
                  + (f": {reasons[0]}" if reasons else ""))


def read_seed(path: str | Path, *, step: int | None = None) -> SeedFile:
    """The seed generator's weights in ``path`` (any form above); NotSeed when the file holds something else,
    ModelError when it cannot be read. ``step``: which ``ckpt-N`` of a checkpoint folder (default: latest)."""
    path = Path(path)
    form = form_of(path)
    if form == "checkpoint":
        return _read_checkpoint(path, step)
    if step is not None:
        raise ModelError(f"{path}: step= applies to tf.train.Checkpoint folders only")
    if form == "keras":
        layers, config = _read_keras_zip(path)
        label = ".keras model"
    elif form in ("h5", "weights.h5"):
        layers, config, label = _read_h5(path)
    else:
        raise NotSeed(f"{path}: not a Keras weights container (.keras, .h5, .weights.h5, checkpoint)")
    try:
        layout = detect_layout(layers, str(path))
    except NotSeed:
        raise
    except ModelError as exc:
        raise NotSeed(str(exc)) from exc
    if config is not None:
        lambdas = _check_config(config, str(path))
        if lambdas not in (0, 2 + upsample_stages(layout.scale)):
            raise NotSeed(f"{path}: {lambdas} Lambda layers; the article's generator has "
                          f"{2 + upsample_stages(layout.scale)} (scaling in and out, one pixel shuffle per x2)")
    return SeedFile(path, label, layers, layout)


def describe(path: str | Path) -> dict[str, Any]:
    """What ``srbench models inspect`` says of a Keras file or folder: the form, the architecture (the seed
    generator when its weights are, else what the container says) and the command that evaluates it.
    Reads no code; a checkpoint folder needs TensorFlow (imported here)."""
    path = Path(path)
    form = form_of(path)
    if form is None or (not path.exists() and not is_checkpoint(path)):
        raise ModelError(f"{path}: not found, or not a Keras file or folder (.keras, .h5, .weights.h5, "
                         "SavedModel, tf.train.Checkpoint)")
    forms = {"keras": ".keras model (zip: config.json + model.weights.h5)", "h5": "Keras HDF5 (.h5)",
             "weights.h5": "Keras 3 weights (.weights.h5)", "checkpoint": "tf.train.Checkpoint",
             "savedmodel": "TensorFlow SavedModel"}
    facts: dict[str, Any] = {"file": str(path), "sha256": weights_sha256(path), "framework": "tensorflow/keras",
                             "form": forms[form], "command": f"srbench run -m keras:{path} -d set14 -s SCALE"}
    if form == "savedmodel":
        facts.update(architecture="a TensorFlow graph (not inspected without running it)", scale=None)
        return facts
    try:
        found = read_seed(path)
    except NotSeed as exc:
        facts.update(architecture=f"not the seed article's generator ({exc})", scale=None)
        if form in ("weights.h5", "checkpoint"):
            facts["command"] = None  # weights without a graph srbench knows
        return facts
    params = sum(int(np.prod(a.shape)) for name, arrays in found.layers for a in arrays[:2]
                 if len(arrays) != 4) + sum(2 * int(arrays[0].size) for _, arrays in found.layers if len(arrays) == 4)
    facts.update(form=found.form, scale=found.layout.scale, n_blocks=found.layout.n_blocks,
                 architecture=f"the seed article's SRResNet generator (build_srresnet), {found.layout.n_blocks} "
                              f"residual blocks, x{found.layout.scale}; Lambda layers rebuilt by srbench",
                 params=params, details=found.details or None,
                 command=f"srbench run -m keras:{path} -d set14 -s {found.layout.scale}")
    return facts
