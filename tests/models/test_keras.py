"""The ``keras-srresnet`` adapter: contract (shape, range, determinism), the UNTRAINED flag, weights
loading, and layer-for-layer equivalence with the PyTorch SRResNet (ported weights, independent code)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from srbench.interfaces import ModelError, SRModel


@pytest.fixture(scope="module")
def keras_mod() -> Any:
    pytest.importorskip("tensorflow")
    from srbench.models.keras import srresnet as keras_mod

    return keras_mod


@pytest.fixture(scope="module")
def untrained_x4(keras_mod: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return keras_mod.build(4)


def _torch_net(scale: int, seed: int) -> torch.nn.Module:
    """A PyTorch SRResNet with every parameter and BN statistic randomised (so nothing is trivially 0/1)."""
    from srbench.models.archs.srresnet import SRResNet

    torch.manual_seed(seed)
    net = SRResNet(scale).eval()
    g = torch.Generator().manual_seed(seed)
    for mod in net.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.copy_(torch.rand(64, generator=g) * 0.2 - 0.1)
            mod.running_var.copy_(torch.rand(64, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(64, generator=g) + 0.5)
            mod.bias.data.copy_(torch.rand(64, generator=g) * 0.2 - 0.1)
        elif isinstance(mod, torch.nn.PReLU):
            mod.weight.data.fill_(float(torch.rand(1, generator=g)) * 0.3)
    return net


def test_untrained_build_is_loud(keras_mod: Any) -> None:
    with pytest.warns(UserWarning, match="RANDOMLY INITIALISED"):
        model = keras_mod.build(2)
    info = model.info()
    assert isinstance(model, SRModel) and model.name == "keras-srresnet" and model.scale == 2
    assert info.demo is True and info.extra["untrained"] is True and info.description.startswith("UNTRAINED")
    assert info.weights is None and "RANDOMLY INITIALISED" in info.extra["warning"]


def test_contract_shape_range_dtype(untrained_x4: Any) -> None:
    from srbench.contract import check_adapter

    assert check_adapter(untrained_x4) == []
    x = torch.rand(2, 3, 9, 14)
    y = untrained_x4.upscale(x)
    assert y.dtype == torch.float32 and tuple(y.shape) == (2, 3, 36, 56) and y.device == x.device
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0  # tanh mapped to [0, 1]
    assert float(y.std()) > 0  # not a constant image


def test_deterministic_within_and_across_builds(keras_mod: Any, untrained_x4: Any) -> None:
    x = torch.rand(1, 3, 10, 8, generator=torch.Generator().manual_seed(3))
    a = untrained_x4.upscale(x)
    assert torch.equal(a, untrained_x4.upscale(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        same = keras_mod.build(4, seed=0).upscale(x)
        other = keras_mod.build(4, seed=1).upscale(x)
    assert torch.equal(a, same)
    assert not torch.allclose(a, other)


def test_params_match_the_pytorch_srresnet(keras_mod: Any, untrained_x4: Any) -> None:
    from srbench.models.archs.srresnet import SRResNet
    from srbench.models.fast import count_params

    assert untrained_x4.info().params == count_params(SRResNet(4)) == 1_549_462


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_same_network_as_pytorch_with_ported_weights(keras_mod: Any, scale: int) -> None:
    """Independent implementation check: PyTorch conv/BN/PixelShuffle vs Keras conv/BN/depth_to_space."""
    net = _torch_net(scale, seed=scale)
    model = keras_mod.build_network(scale)
    keras_mod.port_torch_state_dict(model, net.state_dict(), scale)
    x = torch.rand(2, 3, 11, 13, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = ((net(x) + 1) / 2).numpy()
    out = model(x.numpy().transpose(0, 2, 3, 1), training=False).numpy().transpose(0, 3, 1, 2)
    assert out.shape == ref.shape
    assert float(ref.std()) > 0.005  # the comparison is not between two near-constant images (x8: 0.008)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


def test_loads_pytorch_checkpoint_through_build(keras_mod: Any, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    net = _torch_net(4, seed=11)
    path = tmp_path / "g.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    model = keras_mod.build(4, weights=str(path))
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        ref = (net(x) + 1) / 2
    torch.testing.assert_close(model.upscale(x), ref, rtol=0, atol=1e-5)
    info = model.info()
    assert info.demo is False and info.extra["untrained"] is False and info.weights == str(path)
    assert info.extra["weights_format"].startswith("pytorch")
    assert info.weights_sha256 is not None and len(info.weights_sha256) == 64


def test_packaged_demo_weights_stay_flagged_as_demo(keras_mod: Any) -> None:
    from srbench.models.srresnet import demo_weights_path

    info = keras_mod.build(4, weights=str(demo_weights_path("srresnet"))).info()
    assert info.demo is True and info.extra["untrained"] is False


def test_keras_weights_round_trip(keras_mod: Any, tmp_path: Path) -> None:
    import hashlib

    net = keras_mod.build_network(4, seed=5)
    path = tmp_path / "srresnet_x4.weights.h5"
    net.save_weights(str(path))
    model = keras_mod.build(4, weights=path)
    x = np.random.default_rng(0).random((1, 9, 7, 3), dtype=np.float32)
    expected = net(x, training=False).numpy().transpose(0, 3, 1, 2)
    got = model.upscale(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    np.testing.assert_array_equal(got.numpy(), expected)
    assert model.info().weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.info().extra["weights_format"].startswith("keras .weights.h5")


def test_tiled_equals_untiled(keras_mod: Any, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "g.safetensors"
    save_file({k: v.contiguous() for k, v in _torch_net(2, seed=4).state_dict().items()}, str(path))
    whole = keras_mod.build(2, weights=str(path))
    tiled = keras_mod.build(2, weights=str(path), tile=8)
    x = torch.rand(1, 3, 19, 23, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(tiled.upscale(x), whole.upscale(x), rtol=0, atol=1e-5)
    assert tiled.info().extra["tile_overlap"] == keras_mod.receptive_radius(2)


def test_wrong_scale_weights_are_rejected(keras_mod: Any, tmp_path: Path) -> None:
    path = tmp_path / "x2.weights.h5"
    keras_mod.build_network(2).save_weights(str(path))
    with pytest.raises(ModelError, match="keras-srresnet.*x4"):
        keras_mod.build(4, weights=path)


def test_foreign_keras_weights_are_rejected(keras_mod: Any, tmp_path: Path) -> None:
    import keras

    inp = keras.Input((None, None, 3))
    tiny = keras.Model(inp, keras.layers.Conv2D(64, 9, padding="same")(inp))
    path = tmp_path / "tiny.weights.h5"
    tiny.save_weights(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and Keras' own "skipping" warnings do not leak out
        with pytest.raises(ModelError, match="keras-srresnet: cannot load Keras weights"):
            keras_mod.build(4, weights=path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": 5}, "scale"),
        ({"scale": 4.0}, "scale"),
        ({"scale": 4, "weights": "/nonexistent/w.weights.h5"}, "not found"),
        ({"scale": 4, "colour": "y"}, "unknown options"),
        ({"scale": 4, "tile": 0}, "tile"),
        ({"scale": 4, "device": "tpu"}, "device"),
    ],
)
def test_build_errors(keras_mod: Any, kwargs: dict, match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ModelError, match=f"keras-srresnet.*{match}"):
            keras_mod.build(**kwargs)


def test_unknown_weights_format_is_rejected(keras_mod: Any, tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"\0" * 16)
    with pytest.raises(ModelError, match=r"\.weights\.h5"):
        keras_mod.build(4, weights=path)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((1, 3, 4, 4), np.float32), "torch.Tensor"),
        (torch.zeros(1, 1, 4, 4), "NCHW"),
        (torch.zeros(3, 4, 4), "NCHW"),
        (torch.zeros(1, 3, 4, 4, dtype=torch.float64), "float32"),
        (torch.full((1, 3, 4, 4), float("inf")), "NaN or infinite"),
    ],
)
def test_upscale_rejects_bad_input(untrained_x4: Any, bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=f"keras-srresnet.*{match}"):
        untrained_x4.upscale(bad)


def test_missing_tensorflow_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs without TensorFlow too: a blocked import must become a ModelError with the pip command."""
    from srbench.models.keras import srresnet as keras_mod

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # makes `import tensorflow` raise ImportError
    with pytest.raises(ModelError, match=r"pip install 'srbench\[tensorflow\]'"):
        keras_mod.build(4)


def test_registry_lists_it_without_importing_tensorflow() -> None:
    import subprocess

    code = (
        "import sys; from srbench.registry import list_models; import srbench.models.keras.srresnet; "
        "assert 'keras-srresnet' in list_models(); assert 'tensorflow' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_building_the_keras_adapter_does_not_break_torch_dynamo_later() -> None:
    """TF 2.21 + torch's triton segfault when triton is imported after TensorFlow; the adapter orders them."""
    import subprocess
    import sys

    code = (
        "from srbench.registry import get_model\n"
        "get_model('keras-srresnet', 4)\n"
        "import torch\n"
        "from torch.utils.flop_counter import FlopCounterMode\n"
        "with FlopCounterMode(display=False) as f:\n"
        "    torch.nn.Conv2d(3, 3, 3)(torch.rand(1, 3, 8, 8))\n"
        "print('flops', f.get_total_flops())\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "flops 5832" in p.stdout
