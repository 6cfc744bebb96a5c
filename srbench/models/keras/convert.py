"""Weight conversion between the seed's Keras SRGAN generator and its PyTorch twin, both ways, exactly.

Keras side: the layer-by-layer weight lists of ``srbench.models.keras.seed.build_generator`` (and of the
seed scripts' own generator, layer for layer the same), as stored in a Keras ``.h5`` weights file (the
legacy HDF5 layout that ``model.save_weights("gen.h5")`` wrote in Keras 2 and ``model.save("gen.h5")``
still writes: ``layer_names`` in topological order, each layer's arrays in ``weight_names`` order).
PyTorch side: the state_dict of ``srbench.models.archs.seed.SeedGenerator`` in a ``.safetensors`` file.

What changes between the two, per layer kind:
- Conv2D kernel: Keras HWIO ``(kh, kw, in, out)`` <-> PyTorch OIHW ``(out, in, kh, kw)``; bias as is.
- Conv feeding ``tf.nn.depth_to_space(2)``: TensorFlow orders the output channel of sub-pixel ``(i, j)``
  and feature ``c`` as ``(i * 2 + j) * C + c``, PyTorch's PixelShuffle as ``c * 4 + i * 2 + j``: the
  conv's output channels (kernel and bias) are permuted accordingly.
- BatchNormalization ``[gamma, beta, moving_mean, moving_variance]`` <-> ``weight, bias, running_mean,
  running_var`` (+ ``num_batches_tracked`` = 0 on the PyTorch side); epsilon (1e-3) is part of the twin.
- PReLU ``alpha`` of shape ``(1, 1, C)`` (``shared_axes=[1, 2]``) <-> ``weight`` of shape ``(C,)``.
Every op is a transpose or a permutation of float32 values, so a round trip reproduces every array bit
for bit. No TensorFlow, no graph building: numpy, h5py (the ``srbench[tensorflow]`` extra) and srbench's
weight reader. The ``srbench convert`` command (which also reads and writes ``.keras`` models) is
:mod:`srbench.models.keras.command`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srbench.files import atomic_write
from srbench.interfaces import ModelError
from srbench.models.archs.geometry import upsample_stages
from srbench.models.keras._tf import import_h5py
from srbench.models.weights import read_weights

CHANNELS = 64
KERAS_BN_EPS = 1e-3  # the seed generator's (Keras' default)
TORCH_BN_EPS = 1e-5  # srbench's SRResNet/SRGAN (PyTorch's default)
FORMAT = "srbench seed-srgan generator (PyTorch twin of the Keras SRGAN seed code)"
KerasLayers = list[tuple[str, list[np.ndarray]]]  # (layer name, arrays) in topological order


@dataclass(frozen=True)
class SeedLayout:
    """Structure of a seed generator found in a weights file."""

    scale: int
    n_blocks: int


# ------------------------------------------------------------------------------------------ naming


def keras_layer_names(scale: int, n_blocks: int) -> list[str]:
    """Names of the weighted layers of ``srbench.models.keras.seed.build_generator`` in topological order."""
    names = ["head_conv", "head_prelu"]
    for b in range(n_blocks):
        names += [f"block{b}_conv1", f"block{b}_bn1", f"block{b}_prelu", f"block{b}_conv2", f"block{b}_bn2"]
    names += ["post_conv", "post_bn"]
    for u in range(upsample_stages(scale)):
        names += [f"up{u}_conv", f"up{u}_prelu"]
    return names + ["tail_conv"]


def _torch_prefixes(scale: int, n_blocks: int) -> list[tuple[str, str]]:
    """(kind, state_dict prefix) of every Keras weighted layer, in the same order as ``keras_layer_names``."""
    out = [("conv", "head.0"), ("prelu", "head.1")]
    for b in range(n_blocks):
        p = f"blocks.{b}.body"
        out += [("conv", f"{p}.0"), ("bn", f"{p}.1"), ("prelu", f"{p}.2"), ("conv", f"{p}.3"), ("bn", f"{p}.4")]
    out += [("conv", "post.0"), ("bn", "post.1")]
    for u in range(upsample_stages(scale)):
        out += [("shuffle_conv", f"upsample.{3 * u}"), ("prelu", f"upsample.{3 * u + 2}")]
    return out + [("conv", "tail")]


# ------------------------------------------------------------------------------------- permutations


def _tf_to_torch_order(c_out: int, r: int = 2) -> np.ndarray:
    """Index array ``idx`` with ``torch_channel[t] = tf_channel[idx[t]]`` for a conv feeding a shuffle by ``r``."""
    r2 = r * r
    return np.arange(c_out).reshape(r2, c_out // r2).T.reshape(-1)


def _torch_to_tf_order(c_out: int, r: int = 2) -> np.ndarray:
    """The inverse of :func:`_tf_to_torch_order`: ``tf_channel[k] = torch_channel[idx[k]]``."""
    r2 = r * r
    return np.arange(c_out).reshape(c_out // r2, r2).T.reshape(-1)


# ---------------------------------------------------------------------------- structure detection


def detect_layout(layers: KerasLayers, where: str) -> SeedLayout:
    """Scale and number of residual blocks of a seed generator from its weighted layers, shapes checked.

    Raises ModelError naming ``where`` (the file) and the first layer that does not fit.
    """
    n_up = sum(1 for _, w in layers if len(w) == 2 and w[0].shape == (3, 3, CHANNELS, 4 * CHANNELS))
    n_blocks, rest = divmod(len(layers) - 5 - 2 * n_up, 5)
    scale = {1: 2, 2: 4, 3: 8}.get(n_up)
    if scale is None or rest or n_blocks < 1:
        raise ModelError(
            f"{where}: not a weights file of the seed's Keras SRGAN generator ({len(layers)} layers with "
            f"weights, {n_up} upsampling convolutions 64->256; expected 16 residual blocks of 5 weighted "
            "layers and 1, 2 or 3 upsampling blocks for x2, x4, x8)"
        )
    layout = SeedLayout(scale, n_blocks)
    for (name, arrays), (kind, _), want in zip(layers, _torch_prefixes(scale, n_blocks),
                                               keras_layer_names(scale, n_blocks), strict=True):
        shapes = [tuple(a.shape) for a in arrays]
        expected = _keras_shapes(kind, want)
        if shapes != expected:
            raise ModelError(
                f"{where}: layer {name!r} (the seed generator's {want}) has weights of shapes {shapes}, "
                f"expected {expected}"
            )
    return layout


def _keras_shapes(kind: str, name: str) -> list[tuple[int, ...]]:
    c = CHANNELS
    if kind == "bn":
        return [(c,)] * 4
    if kind == "prelu":
        return [(1, 1, c)]
    if kind == "shuffle_conv":
        return [(3, 3, c, 4 * c), (4 * c,)]
    if name == "head_conv":
        return [(9, 9, 3, c), (c,)]
    if name == "tail_conv":
        return [(9, 9, c, 3), (3,)]
    return [(3, 3, c, c), (c,)]


# ----------------------------------------------------------------------------------- conversions


def keras_to_torch(layers: KerasLayers, where: str = "Keras weights") -> tuple[dict[str, np.ndarray], SeedLayout]:
    """PyTorch ``SeedGenerator`` state_dict (numpy float32 arrays) from the Keras weighted layers."""
    layout = detect_layout(layers, where)
    sd: dict[str, np.ndarray] = {}
    for (_, arrays), (kind, p) in zip(layers, _torch_prefixes(layout.scale, layout.n_blocks), strict=True):
        a = [np.asarray(x, dtype=np.float32) for x in arrays]
        if kind in ("conv", "shuffle_conv"):
            w, b = a[0].transpose(3, 2, 0, 1), a[1]
            if kind == "shuffle_conv":
                idx = _tf_to_torch_order(w.shape[0])
                w, b = w[idx], b[idx]
            sd[f"{p}.weight"], sd[f"{p}.bias"] = np.ascontiguousarray(w), np.ascontiguousarray(b)
        elif kind == "bn":
            for key, v in zip(("weight", "bias", "running_mean", "running_var"), a, strict=True):
                sd[f"{p}.{key}"] = np.ascontiguousarray(v)
            sd[f"{p}.num_batches_tracked"] = np.zeros((), dtype=np.int64)
        else:  # prelu
            sd[f"{p}.weight"] = np.ascontiguousarray(a[0].reshape(-1))
    return sd, layout


def torch_to_keras(state_dict: dict[str, Any], where: str = "PyTorch weights", *,
                   bn_eps: float | None = None) -> tuple[KerasLayers, SeedLayout]:
    """Keras weighted layers (named as ``keras_seed.build_generator`` names them) from a twin state_dict.

    Also takes srbench's own SRResNet/SRGAN generator (same module names; one PReLU slope shared by all
    channels, BN epsilon 1e-5): the slope is broadcast to the seed's per-channel layout (exact) and each BN's
    gamma rescaled by ``sqrt((var + 1e-3) / (var + 1e-5))`` so that Keras' epsilon 1e-3 gives the same
    output (exact up to float32 rounding). ``bn_eps``: the source's BN epsilon (default: 1e-5 when the
    PReLU slopes are shared, i.e. srbench's SRResNet, else the seed's 1e-3).
    """

    def get(key: str) -> np.ndarray:
        if key not in state_dict:
            raise ModelError(f"{where}: {key!r} is missing; not a seed-srgan (SeedGenerator) state_dict?")
        v = state_dict[key]
        v = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
        return np.asarray(v, dtype=np.float32)

    n_up = sum(1 for k in state_dict if k.startswith("upsample.") and k.endswith(".bias")
               and np.asarray(get(k)).shape == (4 * CHANNELS,))
    n_blocks = len({k.split(".")[1] for k in state_dict if k.startswith("blocks.")})
    scale = {1: 2, 2: 4, 3: 8}.get(n_up)
    if scale is None or n_blocks < 1:
        raise ModelError(f"{where}: not a seed-srgan state_dict ({n_up} upsampling convolutions, "
                         f"{n_blocks} residual blocks)")
    layout = SeedLayout(scale, n_blocks)
    if bn_eps is None:
        shared = "head.1.weight" in state_dict and np.asarray(get("head.1.weight")).size == 1
        bn_eps = TORCH_BN_EPS if shared else KERAS_BN_EPS
    layers: KerasLayers = []
    for (kind, p), name in zip(_torch_prefixes(scale, n_blocks), keras_layer_names(scale, n_blocks), strict=True):
        if kind in ("conv", "shuffle_conv"):
            w, b = get(f"{p}.weight"), get(f"{p}.bias")
            if kind == "shuffle_conv":
                idx = _torch_to_tf_order(w.shape[0])
                w, b = w[idx], b[idx]
            arrays = [np.ascontiguousarray(w.transpose(2, 3, 1, 0)), np.ascontiguousarray(b)]
        elif kind == "bn":
            gamma, beta, mean, var = (get(f"{p}.{k}") for k in ("weight", "bias", "running_mean", "running_var"))
            if bn_eps != KERAS_BN_EPS:  # same output with Keras' epsilon: gamma / sqrt(var + eps) is what counts
                gamma = (gamma.astype(np.float64) * np.sqrt((var.astype(np.float64) + KERAS_BN_EPS)
                                                            / (var.astype(np.float64) + bn_eps))).astype(np.float32)
            arrays = [gamma, beta, mean, var]
        else:
            slope = get(f"{p}.weight").reshape(-1)
            if slope.shape == (1,):  # one shared slope (srbench's SRResNet/SRGAN): the same slope per channel
                slope = np.full(CHANNELS, slope[0], np.float32)
            arrays = [slope.reshape(1, 1, -1)]
        layers.append((name, arrays))
    expected = {f"{p}.{k}" for kind, p in _torch_prefixes(scale, n_blocks)
                for k in {"bn": ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
                          "prelu": ("weight",)}.get(kind, ("weight", "bias"))}
    extra = sorted(set(state_dict) - expected)
    if extra:
        raise ModelError(f"{where}: unexpected tensors {extra[:5]} for a x{scale} seed generator with "
                         f"{n_blocks} blocks")
    detect_layout(layers, where)  # shapes
    return layers, layout


# ------------------------------------------------------------------------------------------- files


def _decode(values: Any) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def read_keras_h5(path: str | os.PathLike[str]) -> KerasLayers:
    """Weighted layers of a Keras HDF5 file (weights-only or a whole model saved as ``.h5``), in file order.

    Only arrays are read (h5py, no deserialisation of code). Raises ModelError naming the file.
    """
    path = Path(path)
    h5py = import_h5py(str(path))
    if not path.is_file():
        raise ModelError(f"Keras weights file {path} not found")
    try:
        with h5py.File(path, "r") as f:
            g = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in g.attrs:
                raise ModelError(
                    f"{path}: no 'layer_names' attribute: not a Keras HDF5 weights file (Keras 3 "
                    "'.weights.h5' and '.keras' files load through keras-srgan / keras:PATH instead)"
                )
            layers: KerasLayers = []
            for name in _decode(g.attrs["layer_names"]):
                weight_names = _decode(g[name].attrs.get("weight_names", []))
                if weight_names:
                    layers.append((name, [np.asarray(g[name][w]) for w in weight_names]))
            return layers
    except ModelError:
        raise
    except Exception as exc:  # h5py raises OSError/KeyError/... for corrupt or foreign files
        raise ModelError(f"{path}: not a readable Keras HDF5 file ({exc})") from exc


def write_keras_h5(path: str | os.PathLike[str], layers: KerasLayers) -> Path:
    """Write ``layers`` as a Keras HDF5 weights file (the layout ``load_weights("x.h5")`` reads in Keras 2
    and 3: by topological order, so the seed scripts' generators load it whatever their layer names)."""
    path = Path(path)
    h5py = import_h5py(str(path))

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = np.array([n.encode("utf-8") for n, _ in layers])
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = b"2.15.0"  # the HDF5 weights layout of Keras 2 (read by Keras 2 and 3)
            for name, arrays in layers:
                g = f.create_group(name)
                weight_names = [f"{name}/{w}:0" for w in _weight_suffixes(len(arrays))]
                g.attrs["weight_names"] = np.array([w.encode("utf-8") for w in weight_names])
                for w, a in zip(weight_names, arrays, strict=True):
                    g.create_dataset(w, data=np.asarray(a, dtype=np.float32))

    return atomic_write(path, write)


def _weight_suffixes(n: int) -> Sequence[str]:
    return {1: ("alpha",), 2: ("kernel", "bias"), 4: ("gamma", "beta", "moving_mean", "moving_variance")}[n]


def read_torch_safetensors(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors (numpy) and metadata of a ``.safetensors`` file, unwrapped by the one policy of
    :mod:`srbench.models.weights` (srbench training checkpoints: the generator's tensors)."""
    ckpt = read_weights(path, framework="numpy")
    return ckpt.state_dict, ckpt.metadata
