"""file:PATH models: spandrel detection, safe loading, padding, provenance, and the run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srbench.evaluate import RunConfig, evaluate
from srbench.interfaces import ModelError
from srbench.models.files.checkpoint import PadCrop, describe, pad_to, read_checkpoint
from srbench.registry import get_model, split_options
from srbench.rundir import load_results
from tests.models import tiny_nets

REPO = Path(__file__).resolve().parents[2]
FAST = dict(throughput=False, metrics=("psnr", "ssim"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tiny architecture as .pth (BasicSR-wrapped where ARCHS says) and as .safetensors."""
    return tiny_nets.save_all(tmp_path_factory.mktemp("ckpts"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skimage.data

    d = tmp_path_factory.mktemp("imgs")
    img = skimage.data.astronaut()
    Image.fromarray(img[100:132, 150:178].copy()).save(d / "a.png")  # 32x28 HR: 8x7 LR, needs padding for SwinIR
    Image.fromarray(img[200:264, 60:124].copy()).save(d / "b.png")  # 64x64 HR: 16x16 LR
    return d


@pytest.mark.parametrize("name", sorted(tiny_nets.ARCHS))
def test_detected_architecture_scale_and_params(files: dict[str, Path], name: str) -> None:
    net = tiny_nets.make(name)
    for suffix in (".pth", ".safetensors"):
        facts = describe(files[name + suffix])
        assert facts["architecture"] == tiny_nets.ARCHS[name][1]
        assert facts["scale"] == 4
        assert facts["params"] == sum(p.numel() for p in net.parameters())
        assert facts["input_channels"] == facts["output_channels"] == 3
        assert facts["weights_dtype"] == "float32"
    assert describe(files[name + ".pth"])["checkpoint_wrapper"] == tiny_nets.ARCHS[name][2]


@pytest.mark.parametrize("name", sorted(tiny_nets.ARCHS))
def test_output_equals_the_module_called_directly(files: dict[str, Path], name: str) -> None:
    net = tiny_nets.make(name)
    x = torch.rand(2, 3, 16, 20, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want = net(x.clone())
    for suffix in (".pth", ".safetensors"):
        model = get_model(f"file:{files[name + suffix]}", 4)
        got = model.upscale(x)
        assert tuple(got.shape) == (2, 3, 64, 80)
        assert (got - want).abs().max().item() == 0.0  # same float32 CPU computation, bit for bit


def test_size_requirements_pad_by_reflection_and_crop_back(files: dict[str, Path]) -> None:
    model = get_model(f"file:{files['swinir.safetensors']}", 4)
    assert model.info().extra["size_requirements"]["minimum"] == 16
    assert isinstance(model.module, PadCrop)
    net = tiny_nets.make("swinir")
    x = torch.rand(1, 3, 7, 11, generator=torch.Generator().manual_seed(2))
    padded = torch.nn.functional.pad(x, (0, 5, 0, 6), mode="reflect")  # 7x11 -> 13x16 (reflect reaches 6 and 10)
    padded = torch.nn.functional.pad(padded, (0, 0, 0, 3), mode="replicate")  # -> 16x16
    with torch.inference_mode():
        want = net(padded)[..., :28, :44]
    got = model.upscale(x)
    assert tuple(got.shape) == (1, 3, 28, 44)
    assert (got - want).abs().max().item() == 0.0
    assert torch.equal(pad_to(x, 9, 5), padded[..., :16, :16])
    from srbench.perf.prepare import prepare_model  # the timed pass runs adapter.module: padding included

    with torch.inference_mode():
        assert torch.equal(prepare_model(model).fn(x), want)


def test_run_evaluates_every_architecture_with_provenance_and_report(files: dict[str, Path], folder: Path,
                                                                       tmp_path: Path) -> None:
    names = [f"file:{p}" for p in files.values()]
    out = evaluate(RunConfig(models=tuple(names), datasets=(f"folder:{folder}",), **FAST), tmp_path / "run",
                   progress=False)
    assert out.errors == []
    rows = load_results(tmp_path / "run")
    assert set(rows["model"]) == set(files)  # labelled by file name: the stems repeat (.pth and .safetensors)
    assert len(rows) == len(names) * 2 * 2  # 2 images x (psnr, ssim)
    assert rows["value"].notna().all()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    html = (tmp_path / "run" / "report.html").read_text()
    for key, path in files.items():
        rec = run["models"][key]
        arch = tiny_nets.ARCHS[key.split(".")[0]][1]
        assert rec["extra"]["architecture"] == arch and rec["extra"]["scale"] == 4
        from srbench.files import file_sha256

        assert rec["weights_sha256"] == file_sha256(path)
        assert rec["params"] == sum(p.numel() for p in tiny_nets.make(key.split(".")[0]).parameters())
        assert f"<td>{arch}</td>" in html.replace("&#39;", "'")


def test_run_rows_equal_scoring_the_direct_module_output(files: dict[str, Path], folder: Path,
                                                         tmp_path: Path) -> None:
    from srbench.data.imresize import bicubic_lr
    from srbench.pipeline import quantise, score

    path = files["rcan.pth"]
    evaluate(RunConfig(models=(f"file:{path}",), datasets=(f"folder:{folder}",), **FAST), tmp_path / "run",
             progress=False)
    rows = load_results(tmp_path / "run").set_index(["image", "metric"])["value"]
    net = tiny_nets.make("rcan")
    hr = np.asarray(Image.open(folder / "b.png").convert("RGB"))  # 64x64: already a multiple of 4
    lr = bicubic_lr(hr, 4)
    x = torch.from_numpy(lr.transpose(2, 0, 1).copy()).float().div(255.0)[None]
    with torch.inference_mode():
        sr = quantise(net(x), 3)
    want = score(sr, hr, 4, ("psnr", "ssim"), "y", None)
    assert rows[("b", "psnr")] == pytest.approx(want["psnr"], abs=1e-9)
    assert rows[("b", "ssim")] == pytest.approx(want["ssim"], abs=1e-9)


def test_cli_run_with_a_file_model(files: dict[str, Path], folder: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    model = f"file:{files['compact.safetensors']}"
    res = subprocess.run([sys.executable, "-m", "srbench.cli", "run", "--models", f"bicubic,{model}",
                          "-d", f"folder:{folder}", "--metrics", "psnr,ssim", "--no-throughput", "--no-progress",
                          "-o", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode == 0, res.stderr
    assert set(load_results(tmp_path / "run")["model"]) == {"bicubic", "compact"}  # a file model is its stem


def test_scale_mismatch_names_the_files_scale(files: dict[str, Path]) -> None:
    with pytest.raises(ModelError, match=r"x4 RealESRGAN Compact model.*scale 2.*--scale 4"):
        get_model(f"file:{files['compact.pth']}", 2)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # what an unsafe unpickler would execute
        return (Path.touch, (self.marker,))


def test_malicious_pickle_never_runs_code(tmp_path: Path, folder: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"params_ema": {"w": torch.zeros(1)}, "payload": _Evil(marker)}, str(evil))
    assert not marker.exists()
    with pytest.raises(ModelError, match=r"evil\.pth.*weights_only=True"):
        get_model(f"file:{evil}", 4)
    with pytest.raises(ModelError):
        describe(evil)
    with pytest.raises(ModelError, match=r"evil\.pth"):  # refused before anything runs (issue 19: fail early)
        evaluate(RunConfig(models=("bicubic", f"file:{evil}"), datasets=(f"folder:{folder}",), **FAST),
                 tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    assert not marker.exists()
    torch.load(str(evil), weights_only=False)  # the payload is real: an unsafe load does run it
    assert marker.exists()


def test_bad_files_are_model_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        get_model(f"file:{tmp_path / 'missing.pth'}", 4)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match=r"junk\.safetensors.*safetensors"):
        get_model(f"file:{junk}", 4)
    unknown = tmp_path / "unknown.pth"
    torch.save({"foo.weight": torch.zeros(2, 2)}, str(unknown))
    with pytest.raises(ModelError, match=r"unknown\.pth: architecture not recognised"):
        get_model(f"file:{unknown}", 4)
    opt = tmp_path / "opt.pth"
    torch.save({"optimizer": {"lr": 0.1}, "step": 3}, str(opt))
    with pytest.raises(ModelError, match=r"opt\.pth: expected a state dict of tensors"):
        read_checkpoint(opt)


def test_wrappers_and_prefixes_are_unwrapped(tmp_path: Path) -> None:
    net = tiny_nets.make("compact")
    p = tmp_path / "ddp.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}, "epoch": 3}, str(p))
    ck = read_checkpoint(p)
    assert ck.wrapper == "state_dict" and ck.prefix == "module."
    assert set(ck.state_dict) == set(net.state_dict())
    both = tmp_path / "both.pth"  # BasicSR saves both; the EMA weights are the ones it evaluates
    torch.save({"params": {k: torch.zeros_like(v) for k, v in net.state_dict().items()},
                "params_ema": net.state_dict()}, str(both))
    assert torch.equal(read_checkpoint(both).state_dict["body.0.weight"], net.state_dict()["body.0.weight"])


def test_fp16_file_runs_in_float32_and_records_the_file_dtype(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    net = tiny_nets.make("compact")
    p = tmp_path / "half.safetensors"
    save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, str(p))
    model = get_model(f"file:{p}", 4)
    assert model.info().extra["weights_dtype"] == "float16"
    assert model.info().extra["run_dtype"] == "float32"
    assert model.upscale(torch.rand(1, 3, 8, 8)).dtype == torch.float32


def test_path_options(files: dict[str, Path]) -> None:
    assert split_options("m.onnx?input_range=255&x=1") == ("m.onnx", {"input_range": "255", "x": "1"})
    assert split_options("plain.pth") == ("plain.pth", {})
    with pytest.raises(ModelError, match="KEY=VALUE"):
        split_options("m.pth?oops")
    m = get_model(f"file:{files['swinir.pth']}?pad=replicate", 4)
    assert m.info().extra["padding"] == "replicate" and m.name == f"file:{files['swinir.pth']}"
    with pytest.raises(ModelError, match=r"unknown options: 'bogus'; valid options: pad, tile_overlap"):
        get_model(f"file:{files['swinir.pth']}?bogus=1", 4)
    with pytest.raises(ModelError, match="pad must be one of"):
        get_model(f"file:{files['swinir.pth']}?pad=zeros", 4)


def test_tiled_file_model_matches_untiled_for_a_local_network(files: dict[str, Path]) -> None:
    whole = get_model(f"file:{files['compact.pth']}", 4)
    tiled = get_model(f"file:{files['compact.pth']}?tile_overlap=8", 4, tile=8)
    x = torch.rand(1, 3, 20, 18, generator=torch.Generator().manual_seed(3))
    # Compact's receptive radius is num_conv + 2 = 4 LR px < 8: tiles see exactly what the whole image sees
    assert (tiled.upscale(x) - whole.upscale(x)).abs().max().item() < 1e-5


def test_one_channel_model_runs_on_y_with_bicubic_cbcr(tmp_path: Path) -> None:
    from spandrel.architectures.Compact import Compact

    from srbench.data.imresize import imresize
    from srbench.models.files.preupsample import PreUpsampleAdapter, rgb_to_ycbcr, ycbcr_to_rgb

    torch.manual_seed(0)
    net = Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=2, upscale=2).eval()
    p = tiny_nets.save(net, tmp_path / "y.pth")
    model = get_model(f"file:{p}", 2)
    assert isinstance(model, PreUpsampleAdapter) and model.info().extra["input"].startswith("Y channel of the LR")
    lr = torch.randint(0, 256, (1, 3, 6, 7), generator=torch.Generator().manual_seed(0)).float() / 255
    got = model.upscale(lr).double().numpy()[0]
    ycc = np.floor(rgb_to_ycbcr(lr.double().numpy()[0]) * 255 + 0.5) / 255
    with torch.inference_mode():
        y = net(torch.from_numpy(ycc[:1]).float()[None])[0].double().numpy()
    cbcr = imresize(ycc[1:].transpose(1, 2, 0), 2).transpose(2, 0, 1)
    want = ycbcr_to_rgb(np.concatenate([y, cbcr]))
    assert np.abs(got - want).max() < 1e-6


@pytest.mark.parametrize("name", sorted(tiny_nets.ARCHS))
def test_file_models_pass_the_contract_kit(files: dict[str, Path], name: str) -> None:
    import functools

    from srbench.contract import ADAPTER_CHECKS, check_adapter, check_scale_handling
    from srbench.models.files.checkpoint import build

    model = get_model(f"file:{files[name + '.pth']}", 4)
    # random weights can leave [0, 1] far behind: every check but the output range
    assert check_adapter(model, checks=tuple(c for c in ADAPTER_CHECKS if c != "range")) == []
    assert check_scale_handling(functools.partial(build, path=str(files[name + ".pth"])), scales=(2, 4)) == []


def test_builtin_names_still_take_weights(folder: Path, tmp_path: Path) -> None:
    import shutil

    from srbench.models.srresnet import demo_weights_path

    own = Path(shutil.copy(demo_weights_path("srresnet"), tmp_path / "mine.safetensors"))
    evaluate(RunConfig(models=("srresnet",), datasets=(f"folder:{folder}",), weights=(("srresnet", str(own)),),
                       **FAST), tmp_path / "run", progress=False)
    rec = json.loads((tmp_path / "run" / "run.json").read_text())["models"]["srresnet"]
    assert rec["weights"] == str(own) and rec["demo"] is False
