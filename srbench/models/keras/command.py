"""``srbench convert``: the seed generator's weights from one file format to another.

Keras HDF5 ``.h5`` and ``.safetensors`` (the PyTorch twin) need only numpy and h5py
(:mod:`srbench.models.keras.convert`); a whole ``.keras`` model is read or written with TensorFlow
(:mod:`srbench.models.keras.seed`).
"""

from __future__ import annotations

import os
from pathlib import Path

from safetensors.numpy import save as save_safetensors

from srbench.files import atomic_write_bytes, file_sha256
from srbench.interfaces import ModelError
from srbench.models.keras.convert import (
    FORMAT,
    SeedLayout,
    keras_to_torch,
    read_keras_h5,
    read_torch_safetensors,
    torch_to_keras,
    write_keras_h5,
)
from srbench.models.keras.seed import read_keras_model, write_keras_model


def convert_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> SeedLayout:
    """Convert a seed generator's weights; the direction follows the suffixes.

    Keras ``.h5`` (HDF5 weights, or a whole model) or ``.keras`` -> ``.safetensors`` (PyTorch
    ``SeedGenerator``; metadata: scale, n_blocks, format, source sha256); ``.safetensors`` -> ``.h5``
    (HDF5 weights) or ``.keras`` (a whole model). ``.keras`` needs TensorFlow, the rest only h5py.
    Raises ModelError for any other pair or a bad file.
    """
    src, dst = Path(src), Path(dst)
    pair = (src.suffix.lower(), dst.suffix.lower())
    if src.resolve() == dst.resolve():
        raise ModelError(f"convert: input and output are the same file {src}")
    if pair in ((".h5", ".safetensors"), (".keras", ".safetensors")):
        if src.name.endswith(".weights.h5"):
            raise ModelError(f"{src}: a Keras 3 '.weights.h5' file; convert reads Keras HDF5 weights saved "
                             "as '.h5' (Keras 2 save_weights or model.save('x.h5')) or a '.keras' model")
        layers = read_keras_h5(src) if pair[0] == ".h5" else read_keras_model(src)
        sd, layout = keras_to_torch(layers, str(src))
        meta = {"format": FORMAT, "scale": str(layout.scale), "n_blocks": str(layout.n_blocks),
                "converted_from": src.name, "source_sha256": file_sha256(src)}
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
        f"convert: cannot convert {src.name} to {dst.name}: supported are Keras '.h5'/'.keras' -> "
        "'.safetensors' and '.safetensors' -> '.h5'/'.keras' (the seed SRGAN generator)"
    )
