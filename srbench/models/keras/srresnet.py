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

TensorFlow is optional (``pip install srbench[tensorflow]``) and imported only inside :func:`build`.
"""

from __future__ import annotations

import math
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from srbench.files import file_sha256
from srbench.interfaces import ModelError, ModelInfo
from srbench.models.inputs import check_lr

if TYPE_CHECKING:
    import torch

NAME = "keras-srresnet"
SUPPORTED_SCALES = (2, 3, 4, 8)
N_BLOCKS = 16
CHANNELS = 64
TORCH_SUFFIXES = (".safetensors", ".pt", ".pth")
UNTRAINED_WARNING = (
    f"{NAME}: no weights given, so the network is RANDOMLY INITIALISED (untrained); its outputs and "
    "scores are meaningless except for plumbing and speed tests. Pass weights=<file>.weights.h5."
)


def _upsample_factors(scale: int) -> tuple[int, ...]:
    return {2: (2,), 3: (3,), 4: (2, 2), 8: (2, 2, 2)}[scale]


def receptive_radius(scale: int, n_blocks: int = N_BLOCKS) -> int:
    """Reach of one output pixel into the LR input, in LR pixels (rounded up): the tile overlap that
    makes tiled inference equal to untiled (same formula as the PyTorch SRResNet)."""
    reach = 4.0 + 2 * n_blocks + 1
    res = 1
    for f in _upsample_factors(scale):
        reach += 1.0 / res
        res *= f
    return math.ceil(reach + 4.0 / res)


def _import_tensorflow(who: str = NAME) -> tuple[Any, Any]:
    """(tensorflow, keras) or a ModelError (naming ``who``, the model) that says how to install them.

    The one place srbench imports TensorFlow (every Keras adapter and the converter go through it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter, not our errors
    # Importing triton (torch._dynamo / the FLOP counter pull it in) *after* TensorFlow segfaults the
    # process (TF 2.21 + the triton wheel of torch 2.14); triton first is fine, so load it before TF.
    try:
        import triton  # noqa: F401
    except Exception:  # no triton (CPU-only torch builds): nothing to order
        pass
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ModelError(
            f"{who} needs TensorFlow, which is not installed ({exc}). Install it with: "
            "pip install 'srbench[tensorflow]'"
        ) from exc
    import keras

    if int(keras.__version__.split(".")[0]) < 3:
        raise ModelError(f"{who} needs Keras 3 (TensorFlow >= 2.16), found Keras {keras.__version__}")
    return tf, keras


@lru_cache(maxsize=1)
def _layer_classes() -> Any:
    tf, keras = _import_tensorflow()

    # registered so that a saved ``.keras`` model using it loads without unsafe Lambda deserialisation
    @keras.saving.register_keras_serializable(package="srbench")
    class DepthToSpace(keras.layers.Layer):  # type: ignore[misc, name-defined]
        """Pixel shuffle in NHWC: ``tf.nn.depth_to_space`` (channel order row, col, channel)."""

        def __init__(self, block_size: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.block_size = block_size

        def call(self, x: Any) -> Any:
            return tf.nn.depth_to_space(x, self.block_size)

        def compute_output_shape(self, s: tuple) -> tuple:
            b = self.block_size
            return (
                s[0],
                None if s[1] is None else s[1] * b,
                None if s[2] is None else s[2] * b,
                s[3] // (b * b),
            )

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "block_size": self.block_size}

    return DepthToSpace


def build_network(scale: int, seed: int = 0) -> Any:
    """The Keras SRResNet for ``scale``: NHWC float32 [0, 1] LR of any size -> NHWC [0, 1]-ish SR.

    Initialisation is deterministic: every layer gets its own initialiser seeded ``seed + k``.
    Layer names mirror the PyTorch module names (``head_conv``, ``block3_conv2``, ``up1_conv``...).
    """
    if scale not in SUPPORTED_SCALES:
        raise ModelError(
            f"{NAME}: scale {scale} is not supported (SRResNet has x{SUPPORTED_SCALES} variants)"
        )
    _, keras = _import_tensorflow()
    depth_to_space = _layer_classes()
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
    for u, f in enumerate(_upsample_factors(scale)):
        x = conv(CHANNELS * f * f, 3, f"up{u}_conv")(x)
        x = depth_to_space(f, name=f"up{u}_shuffle")(x)
        x = prelu(f"up{u}_prelu")(x)
    x = layers.Activation("tanh", name="tanh")(conv(3, 9, "tail_conv")(x))
    sr = layers.Rescaling(0.5, offset=0.5, name="to_unit_range")(x)  # [-1, 1] -> [0, 1]
    return keras.Model(lr, sr, name=f"srresnet_x{scale}")


def port_torch_state_dict(model: Any, state_dict: dict[str, Any], scale: int) -> None:
    """Copy a PyTorch ``srbench.models.networks.SRResNet`` state_dict into the Keras ``model`` in place.

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
    for u, f in enumerate(_upsample_factors(scale)):
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
    demo_dir = Path(__file__).resolve().parents[1] / "baselines" / "demo"
    return path.resolve().parent == demo_dir


def _tf_device(device: str, tf: Any, who: str = NAME) -> str:
    """srbench/torch device string -> TensorFlow device name; a GPU TF cannot see is an error."""
    kind, _, index = str(device).partition(":")
    if kind == "cpu":
        return "/CPU:0"
    if kind in ("cuda", "gpu"):
        n = int(index or 0)
        gpus = tf.config.list_physical_devices("GPU")
        if n >= len(gpus):
            raise ModelError(
                f"{who}: device {device!r} requested but TensorFlow sees {len(gpus)} GPU(s) "
                "(tensorflow-cpu installed, or no CUDA build of TensorFlow?)"
            )
        for gpu in gpus:  # share the GPU with PyTorch instead of TF grabbing all of its memory
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:  # already initialised: the setting is fixed for this process
                pass
        return f"/GPU:{n}"
    raise ModelError(f"{who}: unsupported device {device!r} (use 'cpu' or 'cuda[:N]')")


class KerasSRResNet:
    """SRModel around the Keras SRResNet. ``keras_model`` is exposed for inspection and timing."""

    name: str = NAME

    def __init__(
        self, scale: int, keras_model: Any, *, device: str, info: ModelInfo, tile: int | None
    ) -> None:
        tf, _ = _import_tensorflow()
        self.scale = scale
        self.device = device
        self.keras_model = keras_model
        self.tile = tile
        self._tf = tf
        self._tf_device = _tf_device(device, tf)
        self._info = info
        # One traced graph for every input size (no retracing per image shape).
        self._forward = tf.function(
            lambda x: keras_model(x, training=False),
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        )

    def _run(self, lr: torch.Tensor) -> torch.Tensor:
        import torch

        nhwc = np.ascontiguousarray(lr.detach().cpu().numpy().transpose(0, 2, 3, 1))
        with self._tf.device(self._tf_device):
            out = self._forward(self._tf.constant(nhwc)).numpy()
        return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2)))

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """float32 RGB NCHW in [0, 1] (N, 3, h, w) -> float32 (N, 3, h*s, w*s), [0, 1] (tanh-bounded).

        Raises ValueError naming the model for a non-tensor, a wrong shape or dtype, or non-finite values.
        """

        check_lr(self.name, lr, finite=True)
        if self.tile:
            from srbench.models.fast import tiled_forward

            out = tiled_forward(self._run, lr, self.scale, self.tile, receptive_radius(self.scale))
        else:
            out = self._run(lr)
        return out.to(lr.device)

    def info(self) -> ModelInfo:
        return self._info

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
    tf, keras = _import_tensorflow()
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
        from srbench.models.weights import read_weights

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
