"""``keras-srgan``: the seed's TensorFlow/Keras SRGAN (the implementation tutorials popularised), exactly.

Unlike ``keras-srresnet`` (PROTOCOL.md's SRResNet rebuilt in Keras), this is that code's own architecture,
so the ``.h5`` weight files its scripts saved load here (``--weights keras-srgan=gen.h5``):

- generator: input in [0, 255], ``x / 255``; 9x9 conv 64 + PReLU; residual blocks (3x3 conv 64,
  BN momentum 0.8, PReLU, 3x3 conv 64, BN 0.8, add); 3x3 conv 64 + BN (Keras defaults) + long skip;
  upsampling blocks ``Conv2D(256, 3) -> tf.nn.depth_to_space(2) -> PReLU`` once for x2, twice for x4,
  three times for x8 (no x3); 9x9 conv to 3 channels with ``tanh``; output ``(x + 1) * 127.5``.
  Every PReLU is ``PReLU(shared_axes=[1, 2])`` (one slope per channel) and every BN has epsilon 1e-3.
- discriminator: input in [0, 255], ``x / 127.5 - 1``; 8 conv blocks 64, 64s2, 128, 128s2, 256, 256s2,
  512, 512s2 (3x3, LeakyReLU 0.2, BN momentum 0.8 except the first); Flatten; Dense 1024; LeakyReLU 0.2;
  Dense 1 with sigmoid.

The seed code's ``Lambda`` layers (scaling, ``depth_to_space``) are replaced by serialisable layers that
compute the same thing and hold no weights (``Rescaling``; srbench's registered ``DepthToSpace``), so a
model saved from here reloads without running code, and the weighted layers come in the same
topological order as the seed's: Keras' HDF5 loader, and :func:`load_weights`, match layers by that
order, not by name. PyTorch twin: ``srbench.models.archs.seed``; conversion: ``srbench.models.keras.convert``
(``srbench convert``: :mod:`srbench.models.keras.command`); geometry: ``srbench.models.archs.geometry``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from srbench.files import atomic_write
from srbench.interfaces import ModelError, ModelInfo
from srbench.models.archs.geometry import N_BLOCKS, SEED_SCALES, receptive_radius, upsample_stages
from srbench.models.keras import convert
from srbench.models.keras._tf import import_tensorflow, layer_classes
from srbench.models.keras.adapter import KerasAdapter
from srbench.models.keras.convert import KerasLayers, SeedLayout, keras_layer_names
from srbench.models.keras.seedfile import form_of, is_checkpoint, read_seed, weights_sha256
from srbench.models.options import check_known, parse_int

NAME = "keras-srgan"
DISC_BLOCKS = ((64, 1, False), (64, 2, True), (128, 1, True), (128, 2, True), (256, 1, True), (256, 2, True),
               (512, 1, True), (512, 2, True))  # (filters, stride, batch norm)
UNTRAINED_WARNING = (
    f"{NAME}: no weights given, so the generator is RANDOMLY INITIALISED (untrained); its outputs and scores "
    "are meaningless except for plumbing and speed tests. Pass --weights keras-srgan=gen.h5."
)


def _keras() -> Any:
    return import_tensorflow(NAME)[1]


def _check_scale(scale: Any) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or int(scale) not in SEED_SCALES:
        raise ModelError(f"{NAME}: scale must be one of {SEED_SCALES} (the seed generator stacks x2 upsampling "
                         f"blocks; it has no x3), got {scale!r}")
    return int(scale)


def build_generator(scale: int = 4, n_blocks: int = N_BLOCKS, seed: int = 0) -> Any:
    """The seed generator for x2/x4/x8: NHWC float32 in [0, 255] of any size -> NHWC in [0, 255].

    ``n_blocks``: residual blocks (16 in the seed code; fewer for quick tests). Initialisation is
    deterministic (Glorot uniform seeded ``seed + k`` per layer; PReLU slopes 0 and BN as Keras' defaults).
    Layer names: ``head_conv``, ``block3_bn1``, ``up0_conv``... (see ``convert.keras_layer_names``).
    """
    scale = _check_scale(scale)
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 1:
        raise ModelError(f"{NAME}: n_blocks must be a positive integer, got {n_blocks!r}")
    keras = _keras()
    depth_to_space = layer_classes()
    layers = keras.layers
    counter = iter(range(seed, seed + 10_000))

    def conv(filters: int, size: int, name: str, activation: str | None = None) -> Any:
        return layers.Conv2D(filters, size, padding="same", activation=activation, name=name,
                             kernel_initializer=keras.initializers.GlorotUniform(seed=next(counter)))

    def prelu(name: str) -> Any:
        return layers.PReLU(shared_axes=[1, 2], name=name)

    lr = keras.Input(shape=(None, None, 3), name="lr")
    x = layers.Rescaling(1.0 / 255.0, name="from_255")(lr)  # seed: Lambda(lambda x: x / 255.0)
    x = skip = prelu("head_prelu")(conv(64, 9, "head_conv")(x))
    for b in range(n_blocks):
        y = layers.BatchNormalization(momentum=0.8, name=f"block{b}_bn1")(conv(64, 3, f"block{b}_conv1")(x))
        y = prelu(f"block{b}_prelu")(y)
        y = layers.BatchNormalization(momentum=0.8, name=f"block{b}_bn2")(conv(64, 3, f"block{b}_conv2")(y))
        x = layers.Add(name=f"block{b}_add")([x, y])
    x = layers.BatchNormalization(name="post_bn")(conv(64, 3, "post_conv")(x))
    x = layers.Add(name="long_skip")([skip, x])
    for u in range(upsample_stages(scale)):
        x = conv(256, 3, f"up{u}_conv")(x)
        x = depth_to_space(2, name=f"up{u}_shuffle")(x)  # seed: Lambda(lambda x: tf.nn.depth_to_space(x, 2))
        x = prelu(f"up{u}_prelu")(x)
    x = conv(3, 9, "tail_conv", activation="tanh")(x)
    sr = layers.Rescaling(127.5, offset=127.5, name="to_255")(x)  # seed: Lambda(lambda x: (x + 1) * 127.5)
    model = keras.Model(lr, sr, name=f"seed_srgan_generator_x{scale}")
    assert [layer.name for layer in model.layers if layer.weights] == keras_layer_names(scale, n_blocks)
    return model


def build_discriminator(hr_size: int = 96, seed: int = 0) -> Any:
    """The seed discriminator for ``hr_size`` x ``hr_size`` RGB in [0, 255]; returns P(real) (sigmoid), (N, 1)."""
    if isinstance(hr_size, bool) or not isinstance(hr_size, int) or hr_size <= 0 or hr_size % 16:
        raise ModelError(f"{NAME}: discriminator input size must be a positive multiple of 16, got {hr_size!r}")
    keras = _keras()
    layers = keras.layers
    counter = iter(range(seed, seed + 10_000))
    inp = keras.Input(shape=(hr_size, hr_size, 3), name="hr")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="from_255")(inp)  # seed: Lambda(x / 127.5 - 1)
    for i, (filters, stride, bn) in enumerate(DISC_BLOCKS):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", name=f"d{i}_conv",
                          kernel_initializer=keras.initializers.GlorotUniform(seed=next(counter)))(x)
        if bn:
            x = layers.BatchNormalization(momentum=0.8, name=f"d{i}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"d{i}_lrelu")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1024, name="dense1024",
                     kernel_initializer=keras.initializers.GlorotUniform(seed=next(counter)))(x)
    x = layers.LeakyReLU(0.2, name="dense_lrelu")(x)
    out = layers.Dense(1, activation="sigmoid", name="p_real",
                       kernel_initializer=keras.initializers.GlorotUniform(seed=next(counter)))(x)
    return keras.Model(inp, out, name=f"seed_srgan_discriminator_{hr_size}")


def set_layer_weights(model: Any, layers: KerasLayers, where: str) -> None:
    """Assign ``layers`` (topological order, as from ``convert``) to the weighted layers of ``model``."""
    targets = [layer for layer in model.layers if layer.weights]
    if len(targets) != len(layers):
        raise ModelError(f"{where}: {len(layers)} layers with weights for a model with {len(targets)}")
    for layer, (name, arrays) in zip(targets, layers, strict=True):
        want = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(a.shape) for a in arrays]
        if want != got:
            raise ModelError(f"{where}: layer {name!r} has shapes {got}; {layer.name} expects {want}")
        layer.set_weights([np.asarray(a, dtype=np.float32) for a in arrays])


def get_layer_weights(model: Any) -> KerasLayers:
    """(name, arrays) of every weighted layer of ``model`` in topological order."""
    return [(layer.name, [np.asarray(w) for w in layer.get_weights()]) for layer in model.layers if layer.weights]


def read_keras_model(path: str | os.PathLike[str]) -> KerasLayers:
    """Weighted layers of a seed generator saved as ``.keras`` (loaded with TensorFlow, safe mode)."""
    keras = import_tensorflow("srbench convert")[1]
    layer_classes()  # srbench's DepthToSpace loads without Lambda
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:
        detail = " ".join(str(exc).splitlines()[:2])[:300]
        raise ModelError(f"{path}: cannot load the Keras model in safe mode ({detail}); "
                         "save its weights with model.save('gen.h5') and convert that") from exc
    return get_layer_weights(model)


def write_keras_model(path: str | os.PathLike[str], layers: KerasLayers, layout: SeedLayout) -> None:
    """``layers`` as a whole ``.keras`` model of :func:`build_generator` (loads with keras:PATH)."""
    model = build_generator(layout.scale, layout.n_blocks)
    set_layer_weights(model, layers, str(path))
    atomic_write(Path(path), lambda tmp: model.save(tmp))  # the temporary name keeps the '.keras' suffix


def load_generator(scale: int, weights: str | os.PathLike[str], *, n_blocks: int | None = None,
                   step: int | None = None) -> tuple[Any, str]:
    """(Keras generator, format label) with the weights of ``weights`` loaded.

    Any Keras container of the seed generator (:func:`srbench.models.keras.seedfile.read_seed`: ``.keras``,
    whole-model ``.h5``, Keras 3 ``.weights.h5``, legacy weights ``.h5``, a ``tf.train.Checkpoint`` folder or
    ``ckpt-N`` prefix, ``step`` choosing one), matched by name and shape (the number of residual blocks is
    taken from the file), or ``.safetensors``: the PyTorch twin's weights (``srbench convert`` output).
    """
    path = Path(weights)
    if not path.exists() and not is_checkpoint(path):
        raise ModelError(f"{NAME}: weights file {path} not found")
    if path.suffix == ".safetensors":
        sd, _ = convert.read_torch_safetensors(path)
        layers, layout = convert.torch_to_keras(sd, str(path))
        fmt = "pytorch seed-srgan safetensors, converted"
    elif form_of(path) in ("keras", "h5", "weights.h5", "checkpoint"):
        found = read_seed(path, step=step)
        layers, layout, fmt = found.layers, found.layout, found.format_label()
    else:
        raise ModelError(f"{NAME}: weights {path} must be a Keras '.keras' / '.h5' / '.weights.h5' file, a "
                         "tf.train.Checkpoint folder or a PyTorch '.safetensors' file of the seed generator")
    if layout.scale != scale:
        raise ModelError(f"{NAME}: {path} holds a x{layout.scale} generator ({upsample_stages(layout.scale)} "
                         f"upsampling blocks), but x{scale} was requested")
    if n_blocks is not None and n_blocks != layout.n_blocks:
        raise ModelError(f"{NAME}: {path} has {layout.n_blocks} residual blocks, n_blocks={n_blocks} was given")
    model = build_generator(scale, layout.n_blocks)
    set_layer_weights(model, layers, str(path))
    return model, fmt


def seed_file_adapter(found: Any, who: str, scale: int, *, device: str = "cpu", tile: int | None = None,
                      tile_overlap: int | None = None) -> KerasAdapter:
    """The adapter for the seed generator found in a file (a ``seedfile.SeedFile``), built by srbench:
    ``keras:PATH`` for every container of the article's generator. Warns with the file's one-line notice."""
    layout = found.layout
    if layout.scale != scale:
        raise ModelError(f"{who}: {found.path} holds a x{layout.scale} seed generator "
                         f"({upsample_stages(layout.scale)} upsampling blocks), but x{scale} was requested")
    tf, keras = import_tensorflow(who)
    model = build_generator(scale, layout.n_blocks)
    set_layer_weights(model, found.layers, str(found.path))
    notice = found.notice()
    warnings.warn(notice, UserWarning, stacklevel=3)
    radius = receptive_radius(scale, layout.n_blocks)
    overlap = radius if tile_overlap is None else tile_overlap
    info = ModelInfo(
        name=who, description=f"the seed article's SRResNet generator x{scale}, {layout.n_blocks} blocks, from "
                              f"{found.path.name} ({found.form}; Lambda layers rebuilt by srbench)",
        weights=str(found.path), weights_sha256=weights_sha256(found.path),
        params=int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        extra={"framework": f"tensorflow {tf.__version__}, keras {keras.__version__}",
               "format": found.format_label(), "form": found.form,
               "architecture": "seed-srgan generator (the article's build_srresnet)", "n_blocks": layout.n_blocks,
               "layout": "NHWC inside, NCHW at the boundary", "input_range": "[0, 255]", "output_range": "[0, 255]",
               "tile": tile, "tile_overlap": overlap if tile else None, "notice": notice, "details": found.details},
    )
    adapter = KerasAdapter(who, scale, lambda x: model(x, training=False), device=device, info=info,
                           input_max=255.0, output_max=255.0, tile=tile, tile_overlap=overlap, keras_model=model)
    adapter.probe()
    return adapter


def build(scale: int, *, device: str = "cpu", weights: str | os.PathLike[str] | None = None,
          tile: int | None = None, seed: int = 0, n_blocks: int | None = None, **options: Any) -> KerasAdapter:
    """The ``keras-srgan`` adapter (the seed generator in Keras, run as a compiled tf.function, NHWC inside).

    ``weights``: see :func:`load_generator`; ``None`` = random initialisation (``seed``), flagged UNTRAINED
    (``demo=True``) with a warning. ``tile``: overlapping LR tiles (overlap = the receptive radius, exact).
    """
    check_known(options, ("step",), NAME, " (and weights, tile, seed, n_blocks)")
    step = parse_int(options.get("step"), "step", NAME, optional=True)
    tile = parse_int(tile, "tile", NAME, minimum=1, optional=True)
    scale = _check_scale(scale)
    if weights is not None and not Path(weights).exists() and not is_checkpoint(Path(weights)):
        raise ModelError(f"{NAME}: weights file {weights} not found")  # before TensorFlow loads (15-20 s)
    tf, keras = import_tensorflow(NAME)
    extra: dict[str, Any] = {"framework": f"tensorflow {tf.__version__}, keras {keras.__version__}",
                             "layout": "NHWC inside, NCHW at the boundary", "input_range": "[0, 255]",
                             "output_range": "[0, 255]", "tile": tile}
    if weights is None:
        warnings.warn(UNTRAINED_WARNING, UserWarning, stacklevel=2)
        model = build_generator(scale, n_blocks or N_BLOCKS, seed=seed)
        extra.update(untrained=True, seed=seed, warning=UNTRAINED_WARNING)
        info_kw: dict[str, Any] = {"description": f"UNTRAINED (random init, seed {seed}) seed SRGAN generator "
                                                  f"x{scale} in Keras", "demo": True}
    else:
        model, fmt = load_generator(scale, weights, n_blocks=n_blocks, step=step)
        extra.update(untrained=False, weights_format=fmt)
        info_kw = {"description": f"seed SRGAN generator x{scale} in Keras from {weights}",
                   "weights": str(weights), "weights_sha256": weights_sha256(Path(weights))}
    blocks = sum(1 for layer in model.layers if layer.name.endswith("_bn1"))
    radius = receptive_radius(scale, blocks)
    extra.update(n_blocks=blocks, tile_overlap=radius if tile else None)
    params = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    info = ModelInfo(name=NAME, params=params, extra=extra, **info_kw)
    return KerasAdapter(NAME, scale, lambda x: model(x, training=False), device=device, info=info,
                        input_max=255.0, output_max=255.0, tile=tile, tile_overlap=radius, keras_model=model)
