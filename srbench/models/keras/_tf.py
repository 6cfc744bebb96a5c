"""TensorFlow, Keras and h5py for the Keras adapters and the converter: the one place that imports them.

TensorFlow (and h5py, which comes with it) is the optional extra ``srbench[tensorflow]``: everything here
imports it when called, never at import time, and turns a missing package into a ModelError that names the
model and the pip command. Private to :mod:`srbench.models.keras`.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

from srbench.interfaces import ModelError


def import_tensorflow(who: str) -> tuple[Any, Any]:
    """(tensorflow, keras) or a ModelError (naming ``who``, the model) that says how to install them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter, not our errors
    load_triton_first()
    try:
        import tensorflow as tf  # deferred: tensorflow is optional
    except ImportError as exc:
        raise ModelError(
            f"{who} needs TensorFlow, which is not installed ({exc}). Install it with: "
            "pip install 'srbench[tensorflow]'"
        ) from exc
    import keras  # deferred: comes with tensorflow

    if int(keras.__version__.split(".")[0]) < 3:
        raise ModelError(f"{who} needs Keras 3 (TensorFlow >= 2.16), found Keras {keras.__version__}")
    return tf, keras


def load_triton_first() -> None:
    """Load triton's native library so that TensorFlow, loaded before or after it, cannot crash it.

    The crash: ``libtensorflow_framework.so.2`` exports thousands of LLVM and MLIR symbols (its own LLVM
    build), and ELF binds each symbol to its first loaded definition, so a ``libtriton.so`` loaded *after*
    TensorFlow (``import triton``, which torch does from ``torch._dynamo``, ``torch.compile``, the FLOP
    counter) runs its static initialisers against TensorFlow's LLVM/MLIR and segfaults (TF 2.21 + triton
    3.x). Loaded first, triton binds to its own copies; loaded after TensorFlow, it is dlopen'ed with
    ``RTLD_DEEPBIND`` so that it prefers its own symbols. Either way both import orders work in one process.
    No triton (CPU-only torch builds) or no ``RTLD_DEEPBIND`` (not glibc): nothing to do.
    """
    if "triton._C.libtriton" in sys.modules:
        return
    deep = getattr(os, "RTLD_DEEPBIND", 0) if "tensorflow" in sys.modules else 0
    old = sys.getdlopenflags()
    try:
        if deep:
            sys.setdlopenflags(old | deep)
        import triton._C.libtriton  # noqa: F401  # deferred: optional, and only needed around TensorFlow
    except Exception:  # no triton, or a triton without a native library: nothing to order
        pass
    finally:
        sys.setdlopenflags(old)


def import_h5py(where: str) -> Any:
    """The h5py module, or a ModelError naming ``where`` (a file, a command) with the pip command."""
    try:
        import h5py  # deferred: h5py is optional (the tensorflow extra)
    except ImportError as exc:
        raise ModelError(
            f"{where}: reading/writing Keras .h5 files needs h5py ({exc}); install it with "
            "pip install 'srbench[tensorflow]'"
        ) from exc
    return h5py


def tf_device(device: str, tf: Any, who: str) -> str:
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


@lru_cache(maxsize=1)
def layer_classes() -> Any:
    """srbench's registered Keras ``DepthToSpace`` layer (pixel shuffle in NHWC), defined once per process.

    Registered so that a saved ``.keras`` model using it loads without unsafe ``Lambda`` deserialisation;
    used by the keras-srresnet and keras-srgan builders and needed before loading such a model.
    """
    tf, keras = import_tensorflow("srbench's Keras layers")

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
