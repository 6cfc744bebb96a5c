"""Weight conversion Keras seed generator <-> PyTorch twin, without TensorFlow: layouts checked against
independent definitions (TF's documented depth_to_space, torch's PixelShuffle and conv2d), exact round
trips, structure detection, file and CLI errors. (Parity with real Keras: tests/models/test_keras_seed.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from srbench.interfaces import ModelError
from srbench.models.archs.seed import SeedGenerator, upsample_stages
from srbench.models.keras import convert

h5py = pytest.importorskip("h5py")


def depth_to_space_nhwc(x: np.ndarray, r: int) -> np.ndarray:
    """TensorFlow's documented depth_to_space: out[n, h*r+i, w*r+j, c] = in[n, h, w, (i*r + j)*C + c]."""
    n, h, w, cr = x.shape
    c = cr // (r * r)
    out = np.empty((n, h * r, w * r, c), x.dtype)
    for i in range(r):
        for j in range(r):
            out[:, i::r, j::r, :] = x[:, :, :, (i * r + j) * c:(i * r + j + 1) * c]
    return out


def conv_nhwc(x: np.ndarray, kernel_hwio: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'same' convolution in NHWC with an HWIO kernel, straight from the definition (float64)."""
    kh, kw, _, _ = kernel_hwio.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros(x.shape[:3] + (kernel_hwio.shape[3],))
    for a in range(kh):
        for b in range(kw):
            out += np.einsum("nhwi,io->nhwo", xp[:, a:a + x.shape[1], b:b + x.shape[2]], kernel_hwio[a, b])
    return out + bias


def random_keras_layers(scale: int, n_blocks: int, seed: int = 0) -> convert.KerasLayers:
    rng = np.random.default_rng(seed)
    layers = []
    kinds = convert._torch_prefixes(scale, n_blocks)
    for (kind, _), name in zip(kinds, convert.keras_layer_names(scale, n_blocks), strict=True):
        shapes = convert._keras_shapes(kind, name)
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        if kind == "bn":
            arrays[3] = np.abs(arrays[3]) + 0.5  # variances are positive
        layers.append((f"seed_{name}", arrays))  # foreign names: matching is by order
    return layers


def test_shuffle_conv_permutation_matches_depth_to_space_vs_pixel_shuffle() -> None:
    """conv (Keras HWIO) -> depth_to_space == converted conv (torch OIHW) -> PixelShuffle, on real data."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 5, 4, 8)).astype(np.float32)
    k = rng.standard_normal((3, 3, 8, 4 * 6)).astype(np.float32)
    b = rng.standard_normal(4 * 6).astype(np.float32)
    want = depth_to_space_nhwc(conv_nhwc(x, k, b), 2)
    idx = convert._tf_to_torch_order(24)
    w_t = torch.from_numpy(k.transpose(3, 2, 0, 1)[idx].copy()).double()
    y = F.pixel_shuffle(F.conv2d(torch.from_numpy(x.transpose(0, 3, 1, 2)).double(), w_t,
                                 torch.from_numpy(b[idx]).double(), padding=1), 2)
    np.testing.assert_allclose(y.numpy().transpose(0, 2, 3, 1), want, rtol=0, atol=1e-9)
    # and the permutation is not the identity (the test would not notice a missing permutation otherwise)
    assert not np.array_equal(idx, np.arange(24))
    np.testing.assert_array_equal(convert._torch_to_tf_order(24)[idx], np.arange(24))


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_round_trips_are_exact(scale: int) -> None:
    layers = random_keras_layers(scale, n_blocks=2, seed=scale)
    sd, layout = convert.keras_to_torch(layers)
    assert layout == convert.SeedLayout(scale, 2)
    net = SeedGenerator(scale, n_blocks=2)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)  # every key, right shape
    back, layout2 = convert.torch_to_keras(net.state_dict())
    assert layout2 == layout and len(back) == len(layers)
    for (_, a), (name, b) in zip(layers, back, strict=True):
        assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(a, b, strict=True)), name
    assert [n for n, _ in back] == convert.keras_layer_names(scale, 2)


def test_bn_and_prelu_mapping() -> None:
    layers = random_keras_layers(4, 1)
    sd, _ = convert.keras_to_torch(layers)
    names = convert.keras_layer_names(4, 1)
    gamma, beta, mean, var = layers[names.index("block0_bn1")][1]
    np.testing.assert_array_equal(sd["blocks.0.body.1.weight"], gamma)
    np.testing.assert_array_equal(sd["blocks.0.body.1.running_mean"], mean)
    np.testing.assert_array_equal(sd["blocks.0.body.1.running_var"], var)
    np.testing.assert_array_equal(sd["blocks.0.body.1.bias"], beta)
    (alpha,) = layers[names.index("up1_prelu")][1]
    assert alpha.shape == (1, 1, 64) and sd["upsample.5.weight"].shape == (64,)
    np.testing.assert_array_equal(sd["upsample.5.weight"], alpha.reshape(-1))
    k = layers[names.index("head_conv")][1][0]
    np.testing.assert_array_equal(sd["head.0.weight"][5, 2, 1, 7], k[1, 7, 2, 5])  # HWIO -> OIHW


def test_twin_bn_is_keras_bn() -> None:
    net = SeedGenerator(2, n_blocks=1)
    bn1, bn_post = net.blocks[0].body[1], net.post[1]
    assert bn1.eps == 1e-3 and bn1.momentum == pytest.approx(0.2) and bn_post.momentum == pytest.approx(0.01)
    assert net.head[1].weight.shape == (64,) and float(net.head[1].weight.detach().abs().max()) == 0.0
    assert [upsample_stages(s) for s in (2, 4, 8)] == [1, 2, 3]
    with pytest.raises(ValueError, match="no|supports"):
        SeedGenerator(3)


def test_detect_layout_errors_name_the_file_and_layer() -> None:
    layers = random_keras_layers(4, 2)
    with pytest.raises(ModelError, match=r"gen\.h5: not a weights file of the seed's Keras SRGAN generator"):
        convert.detect_layout(layers[:-1], "gen.h5")
    bad = list(layers)
    bad[3] = (bad[3][0], [a[:32] for a in bad[3][1]])  # block0_bn1 with 32 channels
    with pytest.raises(ModelError, match=r"gen\.h5: layer 'seed_block0_bn1' \(the seed generator's block0_bn1\)"):
        convert.detect_layout(bad, "gen.h5")


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


def test_torch_state_dict_with_extra_or_missing_tensors_is_rejected() -> None:
    sd = dict(SeedGenerator(2, n_blocks=1).state_dict())
    with pytest.raises(ModelError, match="unexpected tensors"):
        convert.torch_to_keras({**sd, "extra.weight": torch.zeros(1)}, "w.safetensors")
    del sd["tail.bias"]
    with pytest.raises(ModelError, match="'tail.bias' is missing"):
        convert.torch_to_keras(sd, "w.safetensors")
