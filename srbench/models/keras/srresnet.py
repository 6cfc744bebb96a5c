"""``keras-srresnet``: the SRResNet generator in TensorFlow/Keras, behind the same SRModel protocol.

Why it exists: to benchmark a model that lives in another framework through srbench unchanged. The
harness speaks float32 RGB NCHW torch tensors in [0, 1]; this adapter converts to NHWC TensorFlow at
the boundary and back, and nothing else in srbench knows TensorFlow is involved.

The network is docs/protocol.md, "Training recipe"'s SRResNet, layer for layer the same as the PyTorch one in
``srbench.models.archs.srresnet`` (so weights can be ported, see :func:`port_torch_state_dict`):
9x9 conv 64 + PReLU; 16 residual blocks (3x3 conv, BN, PReLU, 3x3 conv, BN, skip); 3x3 conv + BN +
long skip; upsampling x2 = [3x3 conv 64->256, depth_to_space 2, PReLU] (twice for x4), x3 = [3x3
conv 64->576, depth_to_space 3, PReLU], x8 = three x2 stages; 9x9 conv to 3 channels; tanh, mapped back to [0, 1] with
``(y + 1) / 2``. PReLU has one shared slope per layer (init 0.25) and BN uses epsilon 1e-5, both as in
PyTorch. TensorFlow's ``depth_to_space`` orders channels (row, col, channel) where PyTorch's
``PixelShuffle`` orders them (channel, row, col); the porting function permutes accordingly.

TensorFlow is optional (``pip install srbench[tensorflow]``) and imported only when a network is built
(:mod:`srbench.models.keras._tf`). The geometry (scales, receptive radius) is
:mod:`srbench.models.archs.geometry`, the one copy for every SRResNet.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from srbench.files import file_sha256
from srbench.interfaces import ModelError, ModelInfo
from srbench.models.archs.geometry import N_BLOCKS, SUPPORTED_SCALES, receptive_radius, upsample_factors
from srbench.models.keras._tf import import_tensorflow, layer_classes
from srbench.models.keras.adapter import KerasAdapter
from srbench.models.srresnet import demo_weights_path
from srbench.models.weights import read_weights

NAME = "keras-srresnet"
CHANNELS = 64
TORCH_SUFFIXES = (".safetensors", ".pt", ".pth")
UNTRAINED_WARNING = (
    f"{NAME}: no weights given, so the network is RANDOMLY INITIALISED (untrained); its outputs and "
    "scores are meaningless except for plumbing and speed tests. Pass weights=<file>.weights.h5."
)


def build_network(scale: int, seed: int = 0) -> Any:
    """The Keras SRResNet for ``scale``: NHWC float32 [0, 1] LR of any size -> NHWC [0, 1]-ish SR.

    Initialisation is deterministic: every layer gets its own initialiser seeded ``seed + k``.
    Layer names mirror the PyTorch module names (``head_conv``, ``block3_conv2``, ``up1_conv``...).
    """
    if scale not in SUPPORTED_SCALES:
        raise ModelError(
            f"{NAME}: scale {scale} is not supported (SRResNet has x{SUPPORTED_SCALES} variants)"
        )
    _, keras = import_tensorflow(NAME)
    depth_to_space = layer_classes()
    layers = keras.layers
    counter = iter(range(seed, seed + 10_000))

    def conv(filters: int, size: int, name: str) -> Any:
        return layers.Conv2D(
            filters,
            size,
            padding="same",
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(counter)),
            name=name,
        )

    def prelu(name: str) -> Any:
        return layers.PReLU(
            alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1, 2, 3], name=name
        )

    def bn(name: str) -> Any:
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)

    lr = keras.Input(shape=(None, None, 3), name="lr")
    x = prelu("head_prelu")(conv(CHANNELS, 9, "head_conv")(lr))
    skip = x
    for b in range(N_BLOCKS):
        y = bn(f"block{b}_bn1")(conv(CHANNELS, 3, f"block{b}_conv1")(x))
        y = prelu(f"block{b}_prelu")(y)
        y = bn(f"block{b}_bn2")(conv(CHANNELS, 3, f"block{b}_conv2")(y))
        x = layers.Add(name=f"block{b}_add")([x, y])
    x = bn("post_bn")(conv(CHANNELS, 3, "post_conv")(x))
    x = layers.Add(name="long_skip")([skip, x])
    for u, f in enumerate(upsample_factors(scale)):
        x = conv(CHANNELS * f * f, 3, f"up{u}_conv")(x)
        x = depth_to_space(f, name=f"up{u}_shuffle")(x)
        x = prelu(f"up{u}_prelu")(x)
    x = layers.Activation("tanh", name="tanh")(conv(3, 9, "tail_conv")(x))
    sr = layers.Rescaling(0.5, offset=0.5, name="to_unit_range")(x)  # [-1, 1] -> [0, 1]
    return keras.Model(lr, sr, name=f"srresnet_x{scale}")


def port_torch_state_dict(model: Any, state_dict: dict[str, Any], scale: int) -> None:
    """Copy a PyTorch ``srbench.models.archs.srresnet.SRResNet`` state_dict into the Keras ``model`` in place.

    Conv weights go from (out, in, kh, kw) to (kh, kw, in, out); the convolutions that feed a pixel
    shuffle get their output channels permuted from PyTorch's (c, i, j) order to TensorFlow's (i, j, c).
    Raises ModelError when a tensor is missing or has the wrong shape.
    """

    def get(key: str) -> np.ndarray:
        if key not in state_dict:
            raise ModelError(f"{NAME}: the PyTorch weights lack {key!r}; not an srbench SRResNet state_dict?")
        v = state_dict[key]
        return v.detach().cpu().float().numpy() if hasattr(v, "detach") else np.asarray(v, dtype=np.float32)

    def set_conv(layer_name: str, prefix: str, shuffle: int = 1) -> None:
        w, b = get(f"{prefix}.weight"), get(f"{prefix}.bias")
        if shuffle > 1:  # TF channel (i*r + j)*C + c  <-  torch channel c*r*r + i*r + j
            r2 = shuffle * shuffle
            c_out = w.shape[0] // r2
            perm = np.arange(w.shape[0]).reshape(c_out, r2).T.reshape(-1)
            w, b = w[perm], b[perm]
        _assign(model.get_layer(layer_name), [w.transpose(2, 3, 1, 0), b])

    def set_bn(layer_name: str, prefix: str) -> None:
        vals = [get(f"{prefix}.{k}") for k in ("weight", "bias", "running_mean", "running_var")]
        _assign(model.get_layer(layer_name), vals)

    def set_prelu(layer_name: str, key: str) -> None:
        _assign(model.get_layer(layer_name), [get(key).reshape(1, 1, 1)])

    set_conv("head_conv", "head.0")
    set_prelu("head_prelu", "head.1.weight")
    for b in range(N_BLOCKS):
        set_conv(f"block{b}_conv1", f"blocks.{b}.body.0")
        set_bn(f"block{b}_bn1", f"blocks.{b}.body.1")
        set_prelu(f"block{b}_prelu", f"blocks.{b}.body.2.weight")
        set_conv(f"block{b}_conv2", f"blocks.{b}.body.3")
        set_bn(f"block{b}_bn2", f"blocks.{b}.body.4")
    set_conv("post_conv", "post.0")
    set_bn("post_bn", "post.1")
    for u, f in enumerate(upsample_factors(scale)):
        set_conv(f"up{u}_conv", f"upsample.{3 * u}", shuffle=f)
        set_prelu(f"up{u}_prelu", f"upsample.{3 * u + 2}.weight")
    set_conv("tail_conv", "tail")


def _assign(layer: Any, values: list[np.ndarray]) -> None:
    want = [tuple(w.shape) for w in layer.get_weights()]
    got = [tuple(v.shape) for v in values]
    if want != got:
        raise ModelError(f"{NAME}: layer {layer.name} expects weights of shapes {want}, the file gives {got}")
    layer.set_weights(values)


def _count_trainable(model: Any) -> int:
    """Trainable parameters (BN moving statistics excluded), comparable with PyTorch's parameter count."""
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def _is_packaged_demo(path: Path) -> bool:
    """True for srbench's packaged DEMO PyTorch weights, which must stay flagged as not the paper's."""
    return path.resolve().parent == demo_weights_path("srresnet").resolve().parent


class KerasSRResNet(KerasAdapter):
    """SRModel around the Keras SRResNet ([0, 1] in and out; tiles overlap by the receptive radius, exact).
    ``keras_model`` is exposed for inspection and timing."""

    def __init__(self, scale: int, keras_model: Any, *, device: str, info: ModelInfo,
                 tile: int | None) -> None:
        super().__init__(NAME, scale, lambda x: keras_model(x, training=False), device=device, info=info,
                         input_max=1.0, output_max=1.0, tile=tile, tile_overlap=receptive_radius(scale),
                         keras_model=keras_model)

    def __repr__(self) -> str:
        return f"KerasSRResNet(scale={self.scale}, device={self.device!r}, untrained={self._info.demo})"


def build(
    scale: int,
    *,
    device: str = "cpu",
    weights: str | os.PathLike[str] | None = None,
    tile: int | None = None,
    seed: int = 0,
    **options: Any,
) -> KerasSRResNet:
    """The ``keras-srresnet`` adapter.

    ``weights``: a Keras ``.weights.h5`` file (``model.save_weights`` of :func:`build_network`'s
    model), or a PyTorch SRResNet checkpoint (``.safetensors``/``.pt``/``.pth``, srbench's layout),
    ported with :func:`port_torch_state_dict`. ``None``: random initialisation (``seed``), flagged
    UNTRAINED in ``info()`` (``demo=True``, ``extra["untrained"]``) and with a warning.
    ``tile``: run on overlapping LR tiles of this size (overlap = the receptive radius, exact).
    ``device``: ``cpu`` or ``cuda[:N]`` (the TensorFlow GPU, which needs a CUDA build of TensorFlow).
    Errors (missing TensorFlow, bad scale/weights/options) are ModelError naming the model.
    """
    if options:
        raise ModelError(f"{NAME}: unknown options {sorted(options)} (known: weights, tile, seed)")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale not in SUPPORTED_SCALES:
        raise ModelError(f"{NAME}: scale must be one of {SUPPORTED_SCALES}, got {scale!r}")
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile <= 0):
        raise ModelError(f"{NAME}: tile must be a positive number of LR pixels, got {tile!r}")
    scale = int(scale)
    tf, keras = import_tensorflow(NAME)
    model = build_network(scale, seed=seed)
    extra: dict[str, Any] = {
        "framework": f"tensorflow {tf.__version__}, keras {keras.__version__}",
        "layout": "NHWC inside, NCHW at the boundary",
        "tile": tile,
        "tile_overlap": receptive_radius(scale) if tile else None,
    }
    if weights is None:
        warnings.warn(UNTRAINED_WARNING, UserWarning, stacklevel=2)
        extra.update(untrained=True, seed=seed, warning=UNTRAINED_WARNING)
        info = ModelInfo(
            name=NAME,
            description=f"UNTRAINED (random init, seed {seed}) SRResNet x{scale} in Keras",
            params=_count_trainable(model),
            demo=True,
            extra=extra,
        )
        return KerasSRResNet(scale, model, device=device, info=info, tile=tile)

    path = Path(weights)
    if not path.is_file():
        raise ModelError(f"{NAME}: weights file {path} not found")
    if path.name.endswith(".weights.h5"):
        # Keras warns (instead of failing) about parts of a file it skips: a partial load is an error here.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model.load_weights(str(path))
                failure = None
            except Exception as exc:  # h5py/keras raise a variety of errors for a foreign or corrupt file
                failure = exc
        skipped = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if failure is not None or skipped:
            detail = " ".join(str(failure or skipped[0]).splitlines()[:3])[:400]  # Keras dumps whole arrays
            raise ModelError(
                f"{NAME}: cannot load Keras weights {path} into the x{scale} SRResNet "
                f"(a file saved from another scale or network?): {detail}"
            ) from failure
        extra["weights_format"] = "keras .weights.h5"
    elif path.suffix in TORCH_SUFFIXES:
        state_dict = read_weights(path).state_dict
        port_torch_state_dict(model, state_dict, scale)
        extra["weights_format"] = "pytorch SRResNet state_dict, ported"
    else:
        raise ModelError(
            f"{NAME}: weights {path} must be a Keras '.weights.h5' file or a PyTorch SRResNet checkpoint "
            f"({', '.join(TORCH_SUFFIXES)})"
        )
    extra["untrained"] = False
    info = ModelInfo(
        name=NAME,
        description=f"SRResNet x{scale} in Keras from {path}",
        weights=str(path),
        weights_sha256=file_sha256(path),
        params=_count_trainable(model),
        demo=_is_packaged_demo(path),
        extra=extra,
    )
    return KerasSRResNet(scale, model, device=device, info=info, tile=tile)
