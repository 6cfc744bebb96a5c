"""`srbench convert` through the CLI: Keras HDF5 <-> safetensors of the seed generator, and its errors.

(The conversion itself, without the CLI: tests/models/test_convert.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srbench.models.keras import convert
from tests.models.helpers import random_keras_layers

h5py = pytest.importorskip("h5py")


def test_h5_files_and_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from srbench.cli import cli

    layers = random_keras_layers(8, 2, seed=3)
    h5 = convert.write_keras_h5(tmp_path / "gen.h5", layers)
    with h5py.File(h5, "r") as f:  # the Keras HDF5 layout: layer_names, weight_names
        assert [n.decode() for n in f.attrs["layer_names"]] == [n for n, _ in layers]
        assert [w.decode() for w in f["seed_head_conv"].attrs["weight_names"]] == [
            "seed_head_conv/kernel:0", "seed_head_conv/bias:0"]
    runner = CliRunner()
    res = runner.invoke(cli, ["convert", str(h5), str(tmp_path / "gen.safetensors")])
    assert res.exit_code == 0, res.output
    assert "seed SRGAN generator x8, 2 residual blocks" in res.output
    sd, meta = convert.read_torch_safetensors(tmp_path / "gen.safetensors")
    assert meta["scale"] == "8" and meta["n_blocks"] == "2" and meta["format"] == convert.FORMAT
    assert len(meta["source_sha256"]) == 64
    res = runner.invoke(cli, ["convert", str(tmp_path / "gen.safetensors"), str(tmp_path / "back.h5")])
    assert res.exit_code == 0, res.output
    again = convert.read_keras_h5(tmp_path / "back.h5")
    for (_, a), (_, b) in zip(layers, again, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # wrong direction / suffix / content: exit 2 and a sentence naming the file
    res = runner.invoke(cli, ["convert", str(h5), str(tmp_path / "x.onnx")])
    assert res.exit_code == 2 and "cannot convert gen.h5 to x.onnx" in res.output
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    res = runner.invoke(cli, ["convert", str(tmp_path / "junk.h5"), str(tmp_path / "j.safetensors")])
    assert res.exit_code == 2 and "junk.h5: not a readable Keras HDF5 file" in res.output
    assert not (tmp_path / "j.safetensors").exists()
