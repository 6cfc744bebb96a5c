"""``srbench convert``: the seed generator's weights from one file format to another.

Every Keras container of the seed generator is read by :mod:`srbench.models.keras.seedfile` (h5py only,
except a tf.train.Checkpoint: TensorFlow); ``.h5`` and ``.safetensors`` (the PyTorch twin) are written with
numpy and h5py (:mod:`srbench.models.keras.convert`), a whole ``.keras`` model with TensorFlow
(:mod:`srbench.models.keras.seed`).
"""

from __future__ import annotations

import os
from pathlib import Path

from safetensors.numpy import save as save_safetensors

from srbench.files import atomic_write_bytes
from srbench.interfaces import ModelError
from srbench.models.keras.convert import (
    FORMAT,
    SeedLayout,
    keras_to_torch,
    read_torch_safetensors,
    torch_to_keras,
    write_keras_h5,
)
from srbench.models.keras.seed import write_keras_model
from srbench.models.keras.seedfile import form_of, is_checkpoint, read_seed, weights_sha256


def convert_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> SeedLayout:
    """Convert a seed generator's weights; the direction follows the suffixes.

    Keras ``.h5`` (HDF5 weights, or a whole model) or ``.keras`` -> ``.safetensors`` (PyTorch
    ``SeedGenerator``; metadata: scale, n_blocks, format, source sha256); ``.safetensors`` -> ``.h5``
    (HDF5 weights) or ``.keras`` (a whole model). ``.keras`` needs TensorFlow, the rest only h5py.
    Raises ModelError for any other pair or a bad file.
    """
    src, dst = Path(src), Path(dst)
    if not src.exists() and not is_checkpoint(src):
        raise ModelError(f"convert: {src} not found")
    pair = (src.suffix.lower(), dst.suffix.lower())
    if src.resolve() == dst.resolve():
        raise ModelError(f"convert: input and output are the same file {src}")
    if form_of(src) in ("keras", "h5", "weights.h5", "checkpoint") and pair[1] == ".safetensors":
        found = read_seed(src)
        sd, layout = keras_to_torch(found.layers, str(src))
        meta = {"format": FORMAT, "scale": str(layout.scale), "n_blocks": str(layout.n_blocks),
                "converted_from": src.name, "source_sha256": weights_sha256(src), "source_form": found.form}
        atomic_write_bytes(dst, save_safetensors(sd, metadata=meta))
        return layout
    if pair in ((".safetensors", ".h5"), (".safetensors", ".keras")):
        sd, _ = read_torch_safetensors(src)
        layers, layout = torch_to_keras(sd, str(src))
        if pair[1] == ".h5":
            write_keras_h5(dst, layers)
        else:
            write_keras_model(dst, layers, layout)
        return layout
    raise ModelError(
        f"convert: cannot convert {src.name} to {dst.name}: supported are any Keras container of the seed "
        "generator ('.keras', '.h5', '.weights.h5', a tf.train.Checkpoint folder) -> '.safetensors' and "
        "'.safetensors' -> '.h5'/'.keras'"
    )
