"""onnx:PATH models through onnxruntime: same numbers as the PyTorch adapter, input range, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from srbench.evaluate import RunConfig, evaluate
from srbench.interfaces import ModelError
from srbench.registry import get_model
from srbench.rundir import load_results

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


class _Range255(torch.nn.Module):
    """The demo network taking and returning [0, 255] (as some exported models do)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 255.0) * 255.0


def _export(module: torch.nn.Module, path: Path, *, dynamic: bool = True) -> Path:
    axes = {"lr": {0: "n", 2: "h", 3: "w"}, "sr": {0: "n", 2: "H", 3: "W"}} if dynamic else None
    torch.onnx.export(module.eval(), (torch.rand(1, 3, 16, 16),), str(path), input_names=["lr"],
                      output_names=["sr"], dynamic_axes=axes, dynamo=False)
    return path


@pytest.fixture(scope="module")
def demo() -> object:
    return get_model("srresnet", 4)


@pytest.fixture(scope="module")
def onnx_file(demo: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(demo.module, tmp_path_factory.mktemp("onnx") / "srresnet_x4.onnx")


def test_onnx_export_of_the_demo_srresnet_gives_the_same_psnr_ssim(onnx_file: Path, tmp_path: Path) -> None:
    import skimage.data

    d = tmp_path / "imgs"
    d.mkdir()
    img = skimage.data.astronaut()
    Image.fromarray(img[80:128, 120:160].copy()).save(d / "a.png")
    Image.fromarray(img[300:336, 200:244].copy()).save(d / "b.png")
    spec, name = f"onnx:{onnx_file}", onnx_file.stem  # rows are labelled by the file's stem
    out = evaluate(RunConfig(models=("srresnet", spec), datasets=(f"folder:{d}",), throughput=False,
                             metrics=("psnr", "ssim")), tmp_path / "run", progress=False)
    assert out.errors == []
    s = load_results(tmp_path / "run", summary=True).set_index(["model", "metric"])["value"]
    for metric in ("psnr", "ssim"):
        assert round(s[(name, metric)], 4) == round(s[("srresnet", metric)], 4), metric
    rows = load_results(tmp_path / "run").set_index(["model", "image", "metric"])["value"]
    for image in ("a", "b"):
        assert abs(rows[(name, image, "psnr")] - rows[("srresnet", image, "psnr")]) < 5e-5


def test_input_range_255(demo: object, onnx_file: Path, tmp_path: Path) -> None:
    p = _export(_Range255(demo.module), tmp_path / "r255.onnx")
    x = torch.rand(1, 3, 12, 9, generator=torch.Generator().manual_seed(0))
    want = get_model(f"onnx:{onnx_file}", 4).upscale(x)
    got = get_model(f"onnx:{p}?input_range=255", 4)
    assert got.info().extra["input_range"] == "[0, 255]"
    assert (got.upscale(x) - want).abs().max().item() < 1e-5
    wrong = get_model(f"onnx:{p}", 4).upscale(x)  # read as [0, 1]: far off, so the option matters
    assert (wrong - want).abs().max().item() > 0.1


def test_info_and_throughput_path(onnx_file: Path, demo: object) -> None:
    from srbench.files import file_sha256

    m = get_model(f"onnx:{onnx_file}", 4)
    info = m.info()
    assert info.weights_sha256 == file_sha256(onnx_file)
    assert info.params == sum(p.numel() for p in demo.module.parameters())  # the exported (BN-folded) network
    assert info.extra["architecture"] == "ONNX" and m.module is None  # timed through upscale
    from srbench.perf.prepare import prepare_model

    assert prepare_model(m).fn == m.upscale


def test_errors_name_the_file(onnx_file: Path, tmp_path: Path, demo: object,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match=r"x4 model.*scale 2.*--scale 4"):
        get_model(f"onnx:{onnx_file}", 2)
    with pytest.raises(ModelError, match="input_range must be"):
        get_model(f"onnx:{onnx_file}?input_range=2", 4)
    with pytest.raises(ModelError, match=r"unknown options: 'tile_size'; valid options: input_range, trust"):
        get_model(f"onnx:{onnx_file}?tile_size=2", 4)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"nope")
    with pytest.raises(ModelError, match=r"junk\.onnx.*cannot load"):
        get_model(f"onnx:{junk}", 4)
    fixed = get_model(f"onnx:{_export(demo.module, tmp_path / 'fixed.onnx', dynamic=False)}", 4)
    with pytest.raises(ValueError, match=r"fixed input size \(16, 16\)"):
        fixed.upscale(torch.rand(1, 3, 8, 8))
    assert tuple(fixed.upscale(torch.rand(1, 3, 16, 16)).shape) == (1, 3, 64, 64)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelError, match=r"srbench\[onnx\]"):
        get_model(f"onnx:{onnx_file}", 4)


def test_inspect_an_onnx_file(onnx_file: Path, demo: object) -> None:
    from srbench.models.files.onnx import describe

    facts = describe(onnx_file)
    assert facts["scale"] == 4 and facts["architecture"] == "ONNX" and facts["weights_dtype"] == "tensor(float)"
    assert facts["params"] == sum(p.numel() for p in demo.module.parameters())


def test_throughput_is_measured_like_the_others(onnx_file: Path, tmp_path: Path) -> None:
    import pandas as pd
    import skimage.data

    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(skimage.data.astronaut()[100:132, 150:178].copy()).save(d / "a.png")
    name = f"onnx:{onnx_file}"
    out = evaluate(RunConfig(models=(name,), datasets=(f"folder:{d}",), metrics=("psnr",), throughput_sizes=(8,)),
                   tmp_path / "run", progress=False)
    assert out.errors == [] and not [w for w in out.warnings if "throughput" in w]
    t = pd.read_csv(tmp_path / "run" / "throughput.csv")
    got = t[t["model"] == name]  # a fixed size and the real LR image, timed through upscale
    assert set(got["input"]) == {"8x8", "imgs"} and (got["ms_median"] > 0).all(), got
