"""The SRModel around a Keras/TensorFlow model, shared by every Keras adapter (keras-srresnet, keras-srgan,
``keras:PATH``): the harness's float32 RGB NCHW torch tensors in [0, 1] become NHWC float32 in the model's own
range at the boundary and back; nothing else in srbench knows TensorFlow is involved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from srbench.interfaces import ModelError, ModelInfo
from srbench.models.fast import tiled_forward
from srbench.models.inputs import check_lr
from srbench.models.keras._tf import import_tensorflow, tf_device

PROBE = 8  # LR side of the build-time probe


class KerasAdapter:
    """SRModel around a callable NHWC Keras/TensorFlow model. ``keras_model`` is exposed for timing.

    ``call`` maps NHWC float32 in [0, ``input_max``] to NHWC SR in [0, ``output_max``]; it runs as one
    ``tf.function`` traced once for any image size, optionally on overlapping LR tiles.
    """

    def __init__(self, name: str, scale: int, call: Callable[[Any], Any], *, device: str, info: ModelInfo,
                 input_max: float = 255.0, output_max: float = 255.0, tile: int | None = None,
                 tile_overlap: int = 0, keras_model: Any = None) -> None:
        tf, _ = import_tensorflow(name)
        if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile <= 0):
            raise ModelError(f"{name}: tile must be a positive number of LR pixels, got {tile!r}")
        self.name = name
        self.scale = scale
        self.device = device
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.keras_model = keras_model
        self._tf = tf
        self._tf_device = tf_device(device, tf, who=name)
        self._in, self._out = float(input_max), float(output_max)
        self._info = info
        # one traced graph for every input size (no retracing per image shape)
        self._forward = tf.function(call, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])

    def _run(self, lr: torch.Tensor) -> torch.Tensor:
        nhwc = np.ascontiguousarray(lr.detach().cpu().numpy().transpose(0, 2, 3, 1))
        if self._in != 1.0:
            nhwc = nhwc * np.float32(self._in)
        with self._tf.device(self._tf_device):
            out = np.asarray(self._forward(self._tf.constant(nhwc)))
        if out.ndim != 4 or out.shape[3] != 3 or out.shape[1:3] != (nhwc.shape[1] * self.scale,
                                                                     nhwc.shape[2] * self.scale):
            raise ModelError(
                f"{self.name}: for an LR input of {nhwc.shape[1]}x{nhwc.shape[2]} the model returned shape "
                f"{tuple(out.shape)}, expected "
                f"(N, {nhwc.shape[1] * self.scale}, {nhwc.shape[2] * self.scale}, 3) "
                f"(x{self.scale}, NHWC RGB)"
            )
        out = out.astype(np.float32, copy=False)
        if self._out != 1.0:
            out = out / np.float32(self._out)
        return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2)))

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """float32 RGB NCHW in [0, 1] (N, 3, h, w) -> float32 (N, 3, h*s, w*s) in about [0, 1].

        Raises ValueError naming the model for a non-tensor, a wrong shape or dtype, or non-finite values.
        """

        check_lr(self.name, lr, finite=True)
        if self.tile:
            out = tiled_forward(self._run, lr, self.scale, self.tile, self.tile_overlap)
        else:
            out = self._run(lr)
        return out.to(lr.device)

    def probe(self) -> None:
        """Run an 8x8 input once: a model of another scale or channel count fails here, at build time."""
        try:
            self._run(torch.zeros(1, 3, PROBE, PROBE))
        except ModelError:
            raise
        except Exception as exc:  # TF raises InvalidArgumentError etc. for fixed or foreign input shapes
            detail = " ".join(str(exc).splitlines()[:2])[:300]
            raise ModelError(
                f"{self.name}: the model does not run on an NHWC RGB float32 input of any size "
                f"(a {PROBE}x{PROBE} probe failed: {detail})"
            ) from exc

    def info(self) -> ModelInfo:
        return self._info

    def __repr__(self) -> str:
        return f"KerasAdapter({self.name!r}, scale={self.scale}, device={self.device!r})"
