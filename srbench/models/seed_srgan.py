"""``seed-srgan``: the seed's Keras SRGAN generator rebuilt in PyTorch (``seed_networks.SeedGenerator``).

Weights: a ``.safetensors`` file of the twin (``srbench convert gen.h5 gen.safetensors``, ``srbench train
seed-srgan``'s ``best.safetensors``, or a state_dict saved from ``SeedGenerator``), or any Keras container of
the generator (``.keras``, ``.h5``, ``.weights.h5``: h5py from the ``srbench[tensorflow]`` extra, not
TensorFlow; a ``tf.train.Checkpoint`` folder: TensorFlow), converted on the fly. Same inference path as the
``srresnet`` adapter: BN folded, eval mode, channels_last, optional exact tiling. The number of residual
blocks is read from the weights.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from srbench.interfaces import ModelError
from srbench.models.archs.geometry import SEED_SCALES
from srbench.models.archs.seed import SeedGenerator
from srbench.models.keras import convert
from srbench.models.keras.seedfile import form_of, is_checkpoint, read_seed, weights_sha256
from srbench.models.srresnet import SRResNetAdapter

NAME = "seed-srgan"


def load_twin(scale: int, weights: str | os.PathLike[str]) -> tuple[SeedGenerator, str]:
    """(SeedGenerator in eval mode, format label) from a ``.safetensors`` or Keras ``.h5`` weights file."""
    path = Path(weights)
    if form_of(path) in ("keras", "h5", "weights.h5", "checkpoint"):
        found = read_seed(path)  # h5py only; a tf.train.Checkpoint needs TensorFlow
        sd_np, layout = convert.keras_to_torch(found.layers, str(path))
        fmt = f"keras {found.form}, converted"
    elif path.suffix == ".safetensors":
        sd_np, _ = convert.read_torch_safetensors(path)
        _, layout = convert.torch_to_keras(sd_np, str(path))  # validates the structure and shapes
        fmt = "pytorch seed-srgan safetensors"
    else:
        raise ModelError(f"{NAME}: weights {path} must be a '.safetensors' file (srbench convert output, srbench "
                         "train seed-srgan) or a Keras container of the seed generator (.keras, .h5, .weights.h5, "
                         "tf.train.Checkpoint folder)")
    if layout.scale != scale:
        raise ModelError(f"{NAME}: {path} holds a x{layout.scale} generator, but x{scale} was requested")
    net = SeedGenerator(scale, n_blocks=layout.n_blocks)
    sd = {k: torch.from_numpy(v.copy()) for k, v in sd_np.items()}
    for k, v in net.state_dict().items():  # a counter only (unused in eval mode); optional in files
        if k.endswith("num_batches_tracked"):
            sd.setdefault(k, v)
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{NAME}: weights {path} do not fit the x{scale} seed generator: {exc}") from exc
    return net.eval(), fmt


def build(scale: int, *, device: str = "cpu", weights: str | None = None, tile: int | None = None,
          tile_overlap: int | None = None, **options: Any) -> SRResNetAdapter:
    """The ``seed-srgan`` adapter. ``weights`` is required (there are no packaged weights)."""
    unknown = set(options) - {"channels_last"}
    if unknown:
        raise ModelError(f"{NAME}: unknown options {sorted(unknown)} "
                         "(known: weights, tile, tile_overlap, channels_last)")
    if isinstance(scale, bool) or scale not in SEED_SCALES:
        raise ModelError(f"{NAME}: scale must be one of {SEED_SCALES} (no x3 in the seed code), got {scale!r}")
    if weights is None:
        raise ModelError(f"{NAME}: weights are required: --weights {NAME}=gen.safetensors (from `srbench convert "
                         "gen.h5 gen.safetensors`) or the Keras gen.h5 itself")
    path = Path(weights)
    if not path.exists() and not is_checkpoint(path):
        raise ModelError(f"{NAME}: weights file {path} not found")
    net, fmt = load_twin(scale, path)
    adapter = SRResNetAdapter(
        NAME, scale, net, device=device, weights=str(path), weights_sha256=weights_sha256(path), demo=False,  # type: ignore[arg-type]
        description=f"seed SRGAN generator x{scale} (Keras seed code) in PyTorch from {path} ({fmt})",
        tile=tile, tile_overlap=tile_overlap, channels_last=bool(options.get("channels_last", True)),
    )
    adapter._info = replace(adapter._info, extra={**adapter._info.extra, "weights_format": fmt,
                                                  "n_blocks": net.n_blocks, "framework": f"torch {torch.__version__}"})
    return adapter
