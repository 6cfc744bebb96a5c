"""The seed article's reader: its generator, exactly as printed (Lambda layers and all), saved every way its
users end up with (.keras, whole-model .h5, Keras 3 .weights.h5, legacy weights .h5, the training loop's
tf.train.Checkpoint with generator, discriminator, optimisers, step and psnr), evaluates with one
``keras:PATH`` each and agrees with the Keras model's own output scored by srbench."""

from __future__ import annotations

import subprocess
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

# ------------------------------------------------------------------ the article's code, as printed

from tensorflow.keras.layers import (  # noqa: E402
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    Input,
    Lambda,
    LeakyReLU,
    PReLU,
)
from tensorflow.keras.models import Model  # noqa: E402


def normalize_01(x: Any) -> Any:
    return x / 255.0


def normalize_m11(x: Any) -> Any:
    return x / 127.5 - 1


def denormalize_m11(x: Any) -> Any:
    return (x + 1) * 127.5


def pixel_shuffle(scale: int) -> Any:
    return lambda x: tf.nn.depth_to_space(x, scale)


def upsample(x_in: Any, num_filters: int) -> Any:
    x = Conv2D(num_filters, kernel_size=3, padding="same")(x_in)
    x = Lambda(pixel_shuffle(scale=2))(x)
    return PReLU(shared_axes=[1, 2])(x)


def res_block(x_in: Any, num_filters: int, momentum: float = 0.8) -> Any:
    x = Conv2D(num_filters, kernel_size=3, padding="same")(x_in)
    x = BatchNormalization(momentum=momentum)(x)
    x = PReLU(shared_axes=[1, 2])(x)
    x = Conv2D(num_filters, kernel_size=3, padding="same")(x)
    x = BatchNormalization(momentum=momentum)(x)
    x = Add()([x_in, x])
    return x


def build_srresnet(num_filters: int = 64, num_res_blocks: int = 16) -> Any:
    x_in = Input(shape=(None, None, 3))
    x = Lambda(normalize_01)(x_in)
    x = Conv2D(num_filters, kernel_size=9, padding="same")(x)
    x = x_1 = PReLU(shared_axes=[1, 2])(x)
    for _ in range(num_res_blocks):
        x = res_block(x, num_filters)
    x = Conv2D(num_filters, kernel_size=3, padding="same")(x)
    x = BatchNormalization()(x)
    x = Add()([x_1, x])
    x = upsample(x, num_filters * 4)
    x = upsample(x, num_filters * 4)
    x = Conv2D(3, kernel_size=9, padding="same", activation="tanh")(x)
    x = Lambda(denormalize_m11)(x)
    return Model(x_in, x)


def discriminator_block(x_in: Any, num_filters: int, strides: int = 1, batchnorm: bool = True,
                        momentum: float = 0.8) -> Any:
    x = Conv2D(num_filters, kernel_size=3, strides=strides, padding="same")(x_in)
    if batchnorm:
        x = BatchNormalization(momentum=momentum)(x)
    return LeakyReLU(negative_slope=0.2)(x)


def build_discriminator(num_filters: int = 64, hr_size: int = 32) -> Any:
    x_in = Input(shape=(hr_size, hr_size, 3))
    x = Lambda(normalize_m11)(x_in)
    x = discriminator_block(x, num_filters, batchnorm=False)
    x = discriminator_block(x, num_filters, strides=2)
    x = discriminator_block(x, num_filters * 2)
    x = discriminator_block(x, num_filters * 2, strides=2)
    x = Flatten()(x)
    x = Dense(64)(x)
    x = LeakyReLU(negative_slope=0.2)(x)
    x = Dense(1, activation="sigmoid")(x)
    return Model(x_in, x)


# ------------------------------------------------------------------------------------------ fixtures

BLOCKS = 2  # the article's 16 blocks cost time, not coverage: the block count is read from the file


def randomise(model: Any, seed: int) -> Any:
    """Random BN statistics and affine, per-channel PReLU slopes and biases: a mapping error in any changes
    the output."""
    from tests.models.test_keras_seed import randomise as seed_randomise

    return seed_randomise(model, seed)


@pytest.fixture(scope="module")
def article(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The article's generator, random, saved in every form; ckpt-1 holds other weights than ckpt-2."""
    from keras.src.legacy.saving import legacy_h5_format

    h5py = pytest.importorskip("h5py")
    root = tmp_path_factory.mktemp("article")
    gen = build_srresnet(num_res_blocks=BLOCKS)
    disc = build_discriminator()
    g_opt, d_opt = tf.keras.optimizers.Adam(1e-4), tf.keras.optimizers.Adam(1e-4)
    g_opt.build(gen.trainable_variables)  # slots, as after a training step: the optimiser tracks the variables
    d_opt.build(disc.trainable_variables)
    ckpt = tf.train.Checkpoint(step=tf.Variable(0), psnr=tf.Variable(-1.0), generator=gen, discriminator=disc,
                               generator_optimizer=g_opt, discriminator_optimizer=d_opt)
    manager = tf.train.CheckpointManager(ckpt, str(root / "ckpt"), max_to_keep=3)
    randomise(gen, 1)
    first = gen.get_weights()
    manager.save()  # ckpt-1
    randomise(gen, 2)
    ckpt.step.assign(1200)
    ckpt.psnr.assign(27.5)
    manager.save()  # ckpt-2, the latest
    paths = {"keras": root / "gen.keras", "h5": root / "gen.h5", "weights": root / "gen.weights.h5",
             "legacy": root / "legacy.h5", "ckpt": root / "ckpt"}
    gen.save(str(paths["keras"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen.save(str(paths["h5"]))
    gen.save_weights(str(paths["weights"]))
    with h5py.File(paths["legacy"], "w") as f:  # Keras 2's model.save_weights("gen.h5") layout
        legacy_h5_format.save_weights_to_hdf5_group(f, gen)
    return {"model": gen, "first": first, "paths": paths, "root": root}


def own_output(model: Any, lr: torch.Tensor) -> np.ndarray:
    x = lr.numpy().transpose(0, 2, 3, 1) * 255
    return model(x, training=False).numpy().transpose(0, 3, 1, 2) / 255


LR = torch.rand(1, 3, 11, 9, generator=torch.Generator().manual_seed(0))


# --------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("form", ["keras", "h5", "weights", "legacy", "ckpt"])
def test_every_form_is_the_article_generator(article: dict, form: str) -> None:
    from srbench.registry import get_model

    path = article["paths"][form]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = get_model(f"keras:{path}", 4)
    notices = [str(w.message) for w in caught if "the article's SRResNet generator" in str(w.message)]
    where = {"keras": ".keras model", "h5": "whole-model .h5", "weights": "Keras 3 .weights.h5",
             "legacy": "legacy weights .h5", "ckpt": "tf.train.Checkpoint ckpt-2 ('generator') (psnr 27.5, step 1200)"}
    assert notices == [f"{path.name}: the article's SRResNet generator, {BLOCKS} blocks, x4; weights read from "
                       f"the {where[form]}, Lambda layers rebuilt by srbench"]
    np.testing.assert_allclose(model.upscale(LR).numpy(), own_output(article["model"], LR), rtol=0, atol=2e-6)
    info = model.info()
    assert info.extra["n_blocks"] == BLOCKS and len(info.weights_sha256) == 64
    assert info.params == sum(int(np.prod(w.shape)) for w in article["model"].trainable_weights)


def test_models_inspect_names_form_architecture_and_command(article: dict) -> None:
    from click.testing import CliRunner

    from srbench.cli import cli

    for form, label in [("keras", ".keras model"), ("weights", "Keras 3 .weights.h5"),
                        ("ckpt", "tf.train.Checkpoint ckpt-2 ('generator')")]:
        path = article["paths"][form]
        res = CliRunner().invoke(cli, ["models", "inspect", str(path)])
        assert res.exit_code == 0, res.output
        assert f"form               {label}" in res.output
        assert f"the seed article's SRResNet generator (build_srresnet), {BLOCKS} residual blocks, x4" in res.output
        assert f"srbench run -m keras:{path} -d set14 -s 4" in res.output
    params = sum(int(np.prod(w.shape)) for w in article["model"].trainable_weights)
    assert f"params             {params}" in res.output


def test_checkpoint_step_and_prefix(article: dict) -> None:
    from srbench.models.keras.saved import build

    ckpt = article["paths"]["ckpt"]
    first = build_srresnet(num_res_blocks=BLOCKS)
    first.set_weights(article["first"])
    want = own_output(first, LR)
    for model in (build(4, path=f"{ckpt}", step="1"), build(4, path=str(ckpt / "ckpt-1"))):
        np.testing.assert_allclose(model.upscale(LR).numpy(), want, rtol=0, atol=2e-6)
    with pytest.raises(ModelError, match=r"no checkpoint for step=7 \(found: ckpt-1, ckpt-2\)"):
        build(4, path=str(ckpt), step="7")
    with pytest.raises(ModelError, match="holds a x4 seed generator.*x2 was requested"):
        build(2, path=str(ckpt))


def test_other_entry_points_read_every_form(article: dict, tmp_path: Path) -> None:
    """keras-srgan --weights, seed-srgan (PyTorch) and convert take the same containers."""
    from srbench.models.keras.command import convert_file
    from srbench.registry import get_model

    want = own_output(article["model"], LR)
    ckpt = article["paths"]["ckpt"]
    np.testing.assert_allclose(get_model("keras-srgan", 4, weights=str(ckpt)).upscale(LR).numpy(), want,
                               rtol=0, atol=2e-6)
    twin = get_model("seed-srgan", 4, weights=str(article["paths"]["weights"]))
    np.testing.assert_allclose(twin.upscale(LR).numpy(), want, rtol=0, atol=2e-5)
    layout = convert_file(article["paths"]["keras"], tmp_path / "gen.safetensors")
    assert (layout.scale, layout.n_blocks) == (4, BLOCKS)
    twin = get_model("seed-srgan", 4, weights=str(tmp_path / "gen.safetensors"))
    np.testing.assert_allclose(twin.upscale(LR).numpy(), want, rtol=0, atol=2e-5)


def test_a_foreign_lambda_model_keeps_the_refusal_with_its_root_cause(tmp_path: Path) -> None:
    import keras

    from srbench.models.keras.saved import build

    def other(function: Any, name: str) -> Path:
        inp = keras.Input((None, None, 3))
        x = keras.layers.Lambda(function)(inp)
        out = keras.layers.Conv2D(3, 3, padding="same")(keras.layers.UpSampling2D(4)(x))
        keras.Model(inp, out).save(str(tmp_path / name))
        return tmp_path / name

    with pytest.raises(ModelError) as err:
        build(4, path=str(other(normalize_01, "named.keras")))
    msg = str(err.value)
    assert "Lambda layer calling a Python function" in msg and "Could not locate function 'normalize_01'" in msg
    assert "\x1b[" not in msg
    path = other(lambda t: t / 255.0, "anonymous.keras")
    with pytest.raises(ModelError) as err:
        build(4, path=str(path))
    msg = str(err.value)
    assert "contains a Lambda layer" in msg and "safe_mode=false only if you trust" in msg and "Keras said:" in msg
    assert "\x1b[" not in msg
    model = build(4, path=str(path), safe_mode="False")  # the string "False" is false
    assert model.info().extra["safe_mode"] is False


def test_one_srbench_run_per_form_agrees_with_keras_to_1e4_db(article: dict, tmp_path: Path) -> None:
    """Acceptance: `srbench run -m keras:PATH` for every form, scored by srbench, against the Keras model's own
    output scored by srbench (same LR, same quantiser, same PSNR)."""
    from click.testing import CliRunner

    from srbench.cli import cli
    from srbench.data.sources import make_pair, resolve_dataset
    from srbench.pipeline import quantise, to_tensor
    from srbench.rundir import load_results

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
    forms = list(article["paths"].values())
    out = tmp_path / "run"
    specs = ",".join(f"keras:{p}" for p in forms)
    res = CliRunner().invoke(cli, ["run", "-m", specs, "-d", f"folder:{folder}", "-s", "4", "--metrics", "psnr",
                                   "--no-throughput", "--no-progress", "-o", str(out)])
    assert res.exit_code == 0, res.output
    df = load_results(out)
    from srbench.metrics import psnr

    source = resolve_dataset(f"folder:{folder}")
    for image in source.images:
        pair = make_pair(image, 4)
        lr = to_tensor(pair.lr)
        sr = quantise(torch.from_numpy(own_output(article["model"], lr)[0]), 3)
        want = psnr(sr, np.ascontiguousarray(np.asarray(pair.hr).transpose(2, 0, 1)), crop_border=4)
        got = df[(df["image"] == image.id) & (df["metric"] == "psnr")]
        assert len(got) == len(forms)
        assert float(np.abs(got["value"].to_numpy() - want).max()) <= 1e-4, got


def test_options_are_typed_and_checked_before_tensorflow(tmp_path: Path) -> None:
    """?safe_mode=False is false; a bad value or an unknown option lists the valid ones; a missing file is
    a usage error: all before TensorFlow is imported (checked in a fresh process)."""
    code = f"""
import sys
from srbench.interfaces import ModelError
from srbench.models.options import parse_bool
from srbench.registry import get_model
assert [parse_bool(v, "safe_mode", "w") for v in ("False", "false", "0", "no", "", "True", "1", "yes")] == [
    False] * 5 + [True] * 3
for spec, want in [("keras:{tmp_path}/none.keras", "not found"),
                   ("keras:{tmp_path}/none.keras?safe_mode=maybe", "safe_mode must be a boolean"),
                   ("keras:{tmp_path}/none.keras?safemode=0", "did you mean 'safe_mode'"),
                   ("keras:{tmp_path}/none.keras?tile=x", "tile must be an integer")]:
    try:
        get_model(spec, 4)
    except ModelError as exc:
        assert want in str(exc), (spec, str(exc))
    else:
        raise AssertionError(spec)
for name in ("keras-srgan", "seed-srgan"):
    try:
        get_model(name, 4, weights="{tmp_path}/gen.weights.h5")
    except ModelError as exc:
        assert "not found" in str(exc), str(exc)
assert "tensorflow" not in sys.modules, "TensorFlow was imported for a usage error"
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


@pytest.mark.parametrize("first", ["tensorflow", "srbench"])
def test_both_import_orders_work_in_one_process(article: dict, first: str) -> None:
    """`import tensorflow` then srbench's keras:PATH used to segfault in triton's native library (loaded after
    TensorFlow's LLVM/MLIR symbols); torch._dynamo (which imports triton) afterwards must work too."""
    path = article["paths"]["keras"]
    imports = ["import tensorflow", "import srbench.registry"]
    if first == "srbench":
        imports.reverse()
    code = "\n".join([*imports, "import torch", "from srbench.registry import get_model",
                      f"m = get_model('keras:{path}', 4)", "import triton, torch._dynamo",
                      "print(tuple(m.upscale(torch.rand(1, 3, 8, 8)).shape))"])
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr[-2000:]}"
    assert res.stdout.strip().endswith("(1, 3, 32, 32)")
