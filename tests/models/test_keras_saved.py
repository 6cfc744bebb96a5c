"""keras:PATH: saved Keras SR models (.keras, whole-model .h5, SavedModel directory) through the harness,
input/output ranges, safe loading (no Lambda code without an explicit opt-in), scale probe, errors."""

from __future__ import annotations

import json
import sys
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
def small_generator() -> Any:
    """A small seed generator (x4, 1 residual block) with random but fixed weights, [0, 255] in and out."""
    from srbench.models.keras.seed import build_generator

    return build_generator(4, n_blocks=1, seed=3)


@pytest.fixture(scope="module")
def saved(small_generator: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("saved")
    out = {"keras": root / "model.keras", "h5": root / "model.h5", "savedmodel": root / "model_savedmodel"}
    small_generator.save(str(out["keras"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small_generator.save(str(out["h5"]))
    small_generator.export(str(out["savedmodel"]), verbose=False)
    return out


def lr_batch(seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(seed))


def reference(model: Any, lr: torch.Tensor) -> np.ndarray:
    """The Keras model's own output on the same images, mapped to [0, 1] by hand."""
    x = lr.numpy().transpose(0, 2, 3, 1) * 255
    return model(x, training=False).numpy().transpose(0, 3, 1, 2) / 255


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_each_saved_format_gives_the_models_own_output(small_generator: Any, saved: dict, fmt: str) -> None:
    from srbench.contract import check_adapter
    from srbench.registry import get_model

    path = saved[fmt]
    model = get_model(f"keras:{path}", 4)
    lr = lr_batch()
    np.testing.assert_allclose(model.upscale(lr).numpy(), reference(small_generator, lr), rtol=0, atol=2e-6)
    info = model.info()
    assert info.name == f"keras:{path}" and info.weights == str(path) and len(info.weights_sha256) == 64
    assert info.extra["input_range"] == "[0, 255]" and info.extra["output_range"] == "[0, 255]"
    assert info.extra["format"].startswith({"keras": "keras .keras", "h5": "keras .h5",
                                            "savedmodel": "tensorflow SavedModel"}[fmt])
    if fmt != "savedmodel":
        assert info.params == sum(int(np.prod(w.shape)) for w in small_generator.trainable_weights)
    assert check_adapter(model) == []


def test_unit_range_model(tmp_path: Path) -> None:
    """A model that works in [0, 1] (sigmoid output, srbench's registered depth_to_space) needs input_range='0-1'."""
    import keras

    from srbench.models.keras._tf import layer_classes
    from srbench.models.keras.saved import build

    inp = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(12, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(seed=1))(inp)
    x = layer_classes()(2)(x)
    out = keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid",
                              kernel_initializer=keras.initializers.GlorotUniform(seed=2))(x)
    net = keras.Model(inp, out)
    path = tmp_path / "unit.keras"
    net.save(str(path))
    lr = lr_batch(1)
    want = net(lr.numpy().transpose(0, 2, 3, 1), training=False).numpy().transpose(0, 3, 1, 2)
    got = build(2, path=str(path), input_range="0-1").upscale(lr).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    wrong = build(2, path=str(path)).upscale(lr).numpy()  # fed [0, 255] and divided by 255: visibly off
    assert float(np.abs(wrong - want).max()) > 0.1
    mixed = build(2, path=str(path), input_range=[0, 1], output_range="[0, 255]").upscale(lr).numpy()
    np.testing.assert_allclose(mixed, want / 255, rtol=0, atol=2e-8)


def test_lambda_layers_need_an_explicit_opt_in(tmp_path: Path) -> None:
    import keras

    from srbench.models.keras.saved import build

    inp = keras.Input((None, None, 3))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inp)  # as in the seed code
    out = keras.layers.Conv2D(3, 3, padding="same")(keras.layers.UpSampling2D(2)(x))
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(str(path))
    with pytest.raises(ModelError, match=r"contains a Lambda layer.*safe_mode=false only if you trust"):
        build(2, path=str(path))
    model = build(2, path=str(path), safe_mode=False)
    assert model.info().extra["safe_mode"] is False and model.upscale(lr_batch()).shape == (2, 3, 18, 22)


def test_errors(saved: dict, tmp_path: Path) -> None:
    from srbench.models.keras.saved import build

    with pytest.raises(ModelError, match=r"keras:.*for an LR input of 8x8 the model returned shape \(1, 32, 32, 3\)"):
        build(2, path=str(saved["savedmodel"]))  # an x4 model asked for x2: caught by the build-time probe
    with pytest.raises(ModelError, match=r"keras:.*holds a x4 seed generator.*but x2 was requested"):
        build(2, path=str(saved["keras"]))  # the seed generator's scale is read from its weights
    with pytest.raises(ModelError, match="not found"):
        build(4, path=str(tmp_path / "none.keras"))
    with pytest.raises(ModelError, match="input_range must be"):
        build(4, path=str(saved["keras"]), input_range="0-100")
    with pytest.raises(ModelError, match="unknown options"):
        build(4, path=str(saved["keras"]), weights="x")
    (tmp_path / "dir").mkdir()
    with pytest.raises(ModelError, match="without saved_model.pb"):
        build(4, path=str(tmp_path / "dir"))
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(ModelError, match="must be a '.keras' file"):
        build(4, path=str(tmp_path / "m.onnx"))
    from srbench.models.keras.convert import write_keras_h5
    from srbench.models.keras.seed import get_layer_weights
    from tests.models.test_keras_seed import seed_code_generator

    weights_only = write_keras_h5(tmp_path / "w.h5", get_layer_weights(seed_code_generator(4, 1)))
    assert build(4, path=str(weights_only)).info().extra["n_blocks"] == 1  # the seed generator: rebuilt
    other = write_keras_h5(tmp_path / "other.h5", [("dense", [np.zeros((3, 4), np.float32), np.zeros(4, np.float32)])])
    with pytest.raises(ModelError, match="holds weights only.*not the seed article's generator"):
        build(4, path=str(other))
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ModelError, match="junk.h5: not a readable Keras HDF5 file"):
        build(4, path=str(tmp_path / "junk.h5"))


def test_missing_tensorflow_names_the_extra(saved: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from srbench.models.keras import saved as keras_saved
    from srbench.models.keras import seed as keras_seed

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ModelError, match=r"keras:.*needs TensorFlow.*pip install 'srbench\[tensorflow\]'"):
        keras_saved.build(4, path=str(saved["keras"]))
    with pytest.raises(ModelError, match=r"keras-srgan needs TensorFlow.*srbench\[tensorflow\]"):
        keras_seed.build(4)


def test_cli_run_keras_path_beside_srresnet(saved: dict, tmp_path: Path) -> None:
    """`srbench run --models keras:model.keras,srresnet`: both evaluated, one protocol recorded for both."""
    from click.testing import CliRunner

    from srbench.cli import cli
    from srbench.rundir import load_results

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
    spec = f"keras:{saved['keras']}"
    name = Path(saved["keras"]).stem  # a file model is labelled by its stem
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", "-m", f"{spec},srresnet", "-d", f"folder:{folder}", "-s", "4",
                                   "--metrics", "psnr,ssim", "--no-throughput", "--no-progress", "-o", str(out)])
    assert res.exit_code == 0, res.output
    df = load_results(out)
    label = "model"  # a KIND:PATH model is labelled by its file's stem
    assert set(df["model"]) == {label, "srresnet"}
    counts = df.groupby("model").size()
    assert counts[label] == counts["srresnet"] == 2 * 2
    run = json.loads((out / "run.json").read_text())
    assert run["protocol"]["crop_border"] == "scale" and run["config"]["models"] == [spec, "srresnet"]
    rec = run["models"][name]
    assert rec["weights_sha256"] == saved_sha(saved["keras"]) and rec["extra"]["input_range"] == "[0, 255]"


def saved_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_throughput_is_measured_like_any_adapter(saved: dict) -> None:
    from srbench.perf.bench import benchmark_model
    from srbench.registry import get_model

    model = get_model(f"keras:{saved['savedmodel']}", 4)
    (row,) = benchmark_model(model, scale=4, sizes=((16, 16),), warmup=1, iters=2, measure_roofline=False)
    assert row.model == f"keras:{saved['savedmodel']}" and row.ms_median > 0 and row.images_per_s > 0
