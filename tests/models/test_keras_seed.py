"""keras-srgan (the seed's Keras SRGAN) and its PyTorch twin seed-srgan: the seed code's own .h5 files load,
conversion parity Keras <-> PyTorch at x2, x4, x8 (outputs, and PSNR/SSIM through the harness), exact
round trips, the discriminator, errors. Small configs (2 residual blocks) except one full-size test."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from srbench.interfaces import ModelError

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def ks() -> Any:
    from srbench.models.keras import seed as keras_seed

    return keras_seed


def seed_code_generator(scale: int, blocks: int) -> Any:
    """The seed code's generator, as the issue describes it (Lambda layers, default names): independent of
    srbench's builder."""
    import keras
    from keras import layers as L

    def res_block(x0: Any) -> Any:
        x = L.Conv2D(64, 3, padding="same")(x0)
        x = L.BatchNormalization(momentum=0.8)(x)
        x = L.PReLU(shared_axes=[1, 2])(x)
        x = L.Conv2D(64, 3, padding="same")(x)
        x = L.BatchNormalization(momentum=0.8)(x)
        return L.Add()([x0, x])

    def up(x: Any) -> Any:
        x = L.Conv2D(256, 3, padding="same")(x)
        x = L.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(x)
        return L.PReLU(shared_axes=[1, 2])(x)

    lr = L.Input((None, None, 3))
    x = L.Lambda(lambda t: t / 255.0)(lr)
    x = x1 = L.PReLU(shared_axes=[1, 2])(L.Conv2D(64, 9, padding="same")(x))
    for _ in range(blocks):
        x = res_block(x)
    x = L.BatchNormalization()(L.Conv2D(64, 3, padding="same")(x))
    x = L.Add()([x1, x])
    for _ in range({2: 1, 4: 2, 8: 3}[scale]):
        x = up(x)
    x = L.Conv2D(3, 9, padding="same", activation="tanh")(x)
    return keras.Model(lr, L.Lambda(lambda t: (t + 1) * 127.5)(x))


def randomise(model: Any, seed: int) -> Any:
    """Random BN statistics/affine, PReLU slopes and biases (kernels keep their seeded Glorot init), so that
    a mapping error in any of them changes the output. BN gammas < 1 keep 16 residual blocks in range."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if len(ws) == 4:  # BN: gamma, beta, moving mean, moving variance
            c = ws[0].shape
            new = [rng.uniform(0.2, 0.6, c), rng.uniform(-0.1, 0.1, c), rng.uniform(-0.1, 0.1, c),
                   rng.uniform(0.5, 2.0, c)]
        elif len(ws) == 1:  # PReLU alpha, one per channel
            new = [rng.uniform(0.0, 0.3, ws[0].shape)]
        elif len(ws) == 2:  # conv kernel + bias
            new = [ws[0], rng.uniform(-0.05, 0.05, ws[1].shape)]
        else:
            continue
        layer.set_weights([np.asarray(a, np.float32) for a in new])
    return model


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    import skimage.data

    img = skimage.data.astronaut()
    return img[40 + 7 * seed : 40 + 7 * seed + h, 200 : 200 + w].copy()


def to_lr_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img.transpose(2, 0, 1)[None].astype(np.float32) / 255)


def save_legacy_weights(model: Any, path: Path) -> Path:
    """A Keras HDF5 *weights* file as Keras 2's ``model.save_weights('gen.h5')`` wrote it (Keras 3 only
    writes this layout inside whole-model .h5 files, through the same function)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_seed_scripts_h5_files_load_into_keras_srgan(ks: Any, tmp_path: Path, scale: int) -> None:
    """Weights-only .h5 and whole-model .h5 from the seed code (other layer names, Lambda layers) load by
    topological order and give the seed model's own output."""
    seed = randomise(seed_code_generator(scale, 2), seed=scale)
    lr = photo(10, 12)
    want = seed(lr[None].astype(np.float32), training=False).numpy()
    weights_only = save_legacy_weights(seed, tmp_path / "gen.h5")
    whole = tmp_path / "gen_model.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that HDF5 is a legacy format
        seed.save(str(whole))
    for path in (weights_only, whole):
        model = ks.build(scale, weights=str(path))
        got = model.upscale(to_lr_tensor(lr)).numpy().transpose(0, 2, 3, 1) * 255
        assert float(want.std()) > 1.0
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)
        info = model.info()
        assert info.extra["n_blocks"] == 2 and info.extra["untrained"] is False and info.demo is False
        assert info.extra["weights_format"].startswith("keras .h5") and len(info.weights_sha256) == 64


def _converted_pair(ks: Any, tmp_path: Path, scale: int, blocks: int) -> tuple[Any, Path, Path]:
    from srbench.models.keras.command import convert_file

    model = randomise(ks.build_generator(scale, blocks, seed=10 + scale), seed=scale)
    h5 = save_legacy_weights(model, tmp_path / f"gen_x{scale}.h5")
    st = tmp_path / f"gen_x{scale}.safetensors"
    convert_file(h5, st)
    return model, h5, st


def _parity(ks: Any, tmp_path: Path, scale: int, blocks: int) -> None:
    from srbench.evaluate import RunConfig, evaluate
    from srbench.models import seed_srgan
    from srbench.models.keras import convert
    from srbench.models.keras.command import convert_file
    from srbench.rundir import load_results

    model, h5, st = _converted_pair(ks, tmp_path, scale, blocks)
    # 1. the two networks on the same image: [0, 255] outputs within 1e-3
    lr = photo(12, 14)
    keras_out = model(lr[None].astype(np.float32), training=False).numpy()
    net, _ = seed_srgan.load_twin(scale, st)
    with torch.no_grad():
        torch_out = ((net(to_lr_tensor(lr)) + 1) * 127.5).numpy().transpose(0, 2, 3, 1)
    assert keras_out.shape == (1, 12 * scale, 14 * scale, 3) and float(keras_out.std()) > 1.0
    assert float(np.abs(keras_out - torch_out).max()) < 1e-3
    # 2. reverse conversion: back to Keras .h5, every array identical, loads with Keras' own load_weights
    back = convert_file(st, tmp_path / "back.h5")
    assert back == convert.SeedLayout(scale, blocks)
    original = convert.read_keras_h5(h5)
    again = convert.read_keras_h5(tmp_path / "back.h5")
    assert len(original) == len(again)
    for (_, a), (_, b) in zip(original, again, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    reloaded = ks.build_generator(scale, blocks)
    reloaded.load_weights(str(tmp_path / "back.h5"))
    np.testing.assert_array_equal(reloaded(lr[None].astype(np.float32), training=False).numpy(), keras_out)
    # 3. through the harness: same PSNR/SSIM to 4 decimals, image by image
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    for i in range(2):
        Image.fromarray(photo(8 * scale + 8 * i, 10 * scale, seed=i)).save(folder / f"im{i}.png")
    cfg = RunConfig(models=("keras-srgan", "seed-srgan"), datasets=(f"folder:{folder}",), scales=(scale,),
                    metrics=("psnr", "ssim"), weights=(("keras-srgan", str(h5)), ("seed-srgan", str(st))),
                    throughput=False)
    outcome = evaluate(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert outcome.ok, outcome.errors
    rows = load_results(tmp_path / "run").pivot_table(index=["image", "metric"], columns="model", values="value")
    assert len(rows) == 4
    np.testing.assert_array_equal(rows["keras-srgan"].round(4).to_numpy(), rows["seed-srgan"].round(4).to_numpy())


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_keras_to_pytorch_parity_and_round_trip(ks: Any, tmp_path: Path, scale: int) -> None:
    _parity(ks, tmp_path, scale, blocks=2)


def test_full_size_parity_x4(ks: Any, tmp_path: Path) -> None:
    """The seed's 16 residual blocks (about 8 s on 2 cores)."""
    _parity(ks, tmp_path, 4, blocks=16)


def test_full_size_generator_matches_the_seed_code_parameter_count(ks: Any) -> None:
    """Hand count: per-channel PReLU (64 slopes each) -> 1,550,659 trainable parameters at x4 (the PyTorch
    reproduction with one slope per PReLU has 1,549,462); the twin has the same count."""
    from srbench.models.archs.seed import SeedGenerator

    def conv(i: int, o: int, k: int) -> int:
        return i * o * k * k + o

    per_x2 = conv(64, 256, 3) + 64
    expected = conv(3, 64, 9) + 64 + 16 * (2 * (conv(64, 64, 3) + 128) + 64) + conv(64, 64, 3) + 128 + conv(64, 3, 9)
    for scale, stages in ((2, 1), (4, 2), (8, 3)):
        model = ks.build_generator(scale)
        n = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert n == expected + stages * per_x2 == sum(p.numel() for p in SeedGenerator(scale).parameters())
    assert expected + 2 * per_x2 == 1_550_659


def test_discriminator(ks: Any) -> None:
    d = ks.build_discriminator(96)
    bns = [layer for layer in d.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(bns) == 7 and all(b.momentum == pytest.approx(0.8) for b in bns)
    convs = [layer for layer in d.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.strides[0]) for c in convs] == [
        (64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2)]
    n = sum(int(np.prod(w.shape)) for w in d.trainable_weights)
    chans = [3, 64, 64, 128, 128, 256, 256, 512, 512]
    expected = sum(chans[i] * chans[i + 1] * 9 + chans[i + 1] for i in range(8)) + 2 * sum(chans[2:])
    expected += 6 * 6 * 512 * 1024 + 1024 + 1024 + 1
    assert n == expected
    p = d(np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32), training=False).numpy()
    assert p.shape == (2, 1) and ((p > 0) & (p < 1)).all()
    with pytest.raises(ModelError, match="multiple of 16"):
        ks.build_discriminator(100)


def test_untrained_is_loud_and_contract_holds(ks: Any) -> None:
    from srbench.contract import check_adapter

    with pytest.warns(UserWarning, match="RANDOMLY INITIALISED"):
        model = ks.build(2, n_blocks=1)
    assert model.info().demo is True and model.info().extra["untrained"] is True
    assert check_adapter(model) == []


def test_errors(ks: Any, tmp_path: Path) -> None:
    _, h5, st = _converted_pair(ks, tmp_path, 2, 1)
    with pytest.raises(ModelError, match=r"keras-srgan: .*x2 generator .* but x4 was requested"):
        ks.build(4, weights=str(h5))
    with pytest.raises(ModelError, match="seed-srgan: .*x2 generator, but x8"):
        from srbench.models.seed_srgan import build as build_torch

        build_torch(8, weights=str(st))
    with pytest.raises(ModelError, match="no x3"):
        ks.build(3, weights=str(h5))
    with pytest.raises(ModelError, match="not found"):
        ks.build(2, weights=str(tmp_path / "nope.h5"))
    with pytest.raises(ModelError, match="unknown options"):
        ks.build(2, weights=str(h5), colour="y")
    import keras

    inp = keras.Input((None, None, 3))
    foreign = keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(inp))
    with pytest.raises(ModelError, match="not a weights file of the seed's Keras SRGAN generator"):
        ks.build(2, weights=str(save_legacy_weights(foreign, tmp_path / "foreign.h5")))


def test_keras_srgan_tiles_exactly(ks: Any, tmp_path: Path) -> None:
    _, h5, _ = _converted_pair(ks, tmp_path, 2, 1)
    whole, tiled = ks.build(2, weights=str(h5)), ks.build(2, weights=str(h5), tile=8)
    x = to_lr_tensor(photo(19, 23))
    torch.testing.assert_close(tiled.upscale(x), whole.upscale(x), rtol=0, atol=1e-5)
    assert tiled.info().extra["tile_overlap"] == ks.receptive_radius(2, 1) == 10


def test_convert_to_and_from_a_whole_keras_model(ks: Any, tmp_path: Path) -> None:
    """safetensors -> .keras (a whole model for keras:PATH) -> safetensors: identical tensors, same output."""
    from safetensors.numpy import load_file

    from srbench.models.keras.command import convert_file
    from srbench.models.keras.saved import build as build_saved

    _, h5, st = _converted_pair(ks, tmp_path, 8, 1)
    assert convert_file(st, tmp_path / "gen.keras").scale == 8
    convert_file(tmp_path / "gen.keras", tmp_path / "again.safetensors")
    a, b = load_file(str(st)), load_file(str(tmp_path / "again.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    x = to_lr_tensor(photo(6, 5))
    torch.testing.assert_close(build_saved(8, path=str(tmp_path / "gen.keras")).upscale(x),
                               ks.build(8, weights=str(h5)).upscale(x), rtol=0, atol=0)
