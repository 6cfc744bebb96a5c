"""`srbench models list` and `srbench models inspect` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from srbench.cli import cli
from tests.models import tiny_nets


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tiny architecture as .pth (BasicSR-wrapped where ARCHS says) and as .safetensors."""
    return tiny_nets.save_all(tmp_path_factory.mktemp("ckpts"))


def test_models_list() -> None:
    r = CliRunner().invoke(cli, ["models", "list"])
    assert r.exit_code == 0 and "bicubic" in r.output and "srgan" in r.output


def test_models_inspect_cli(files: dict[str, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from srbench.cli import cli

    res = CliRunner().invoke(cli, ["models", "inspect", str(files["swinir.pth"])])
    assert res.exit_code == 0, res.output
    assert "SwinIR" in res.output and "x4" in res.output and "minimum 16" in res.output
    res = CliRunner().invoke(cli, ["models", "inspect", "--json", str(files["esrgan.pth"])])
    facts = json.loads(res.output)
    assert facts["architecture"] == "ESRGAN" and facts["checkpoint_wrapper"] == "params_ema"
    res = CliRunner().invoke(cli, ["models", "inspect", str(tmp_path / "nope.pth")])
    assert res.exit_code == 2 and "not found" in res.output


def test_every_file_kind_declares_its_options_and_an_unknown_one_lists_them(tmp_path: Path) -> None:
    """Issue 19: one typed option grammar for every KIND:PATH kind (srbench.models.options): each kind declares
    its options, `models list --options` prints them, an unknown option names the valid ones."""
    from srbench.interfaces import ModelError
    from srbench.registry import get_model

    r = CliRunner().invoke(cli, ["models", "list", "--options"])
    assert r.exit_code == 0, r.output
    for option in ("?pad=", "?tile_overlap=", "?input_range=", "?safe_mode=", "?trust=",
                   "?channel_order="):
        assert option in r.output
    with pytest.raises(ModelError, match=r"unknown options: 'padd' \(did you mean 'pad'\?\); valid options: pad"):
        get_model(f"file:{tmp_path / 'x.pth'}?padd=replicate", 4)
    with pytest.raises(ModelError, match="tile_overlap must be an integer >= 0"):
        get_model(f"file:{tmp_path / 'x.pth'}?tile_overlap=-2", 4)
    with pytest.raises(ModelError, match=r"valid options: input_range, trust"):
        get_model(f"onnx:{tmp_path / 'x.onnx'}?inputrange=255", 4)


def test_models_inspect_json_reports_an_unreadable_file_as_json(tmp_path: Path) -> None:
    """Issue 19: `models inspect --json` of a file srbench cannot describe is JSON too (exit 2), for scripts."""
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    r = CliRunner().invoke(cli, ["models", "inspect", str(junk), "--json"])
    assert r.exit_code == 2
    doc = json.loads(r.output)
    assert doc["file"] == str(junk) and "junk.pth" in doc["error"]


def test_models_inspect_probe_names_the_convention_that_matches_bicubic(tmp_path: Path) -> None:
    """Issue 19: `models inspect --probe` runs the model in each input convention on a built-in sample. A network
    trained on [0, 255] BGR (here: the demo SRResNet wrapped so) is found in that convention."""
    import torch

    from srbench.data.sources import make_pair, resolve_dataset
    from srbench.pipeline import probe_conventions
    from srbench.registry import get_model

    inner = get_model("srresnet", 4)

    class BGR255:
        name, scale, device = "bgr255", 4, "cpu"

        def upscale(self, lr: torch.Tensor) -> torch.Tensor:  # expects BGR in [0, 255], returns the same
            return inner.upscale(lr.flip(1) / 255).flip(1) * 255

    pair = make_pair(resolve_dataset("samples").images[0], 4)
    psnr = probe_conventions(BGR255(), pair)  # type: ignore[arg-type]
    best = max((k for k in psnr if k != "bicubic" and psnr[k] == psnr[k]), key=lambda k: psnr[k])
    assert best == "BGR in [0, 255]" and psnr[best] > psnr["bicubic"]
    assert not psnr["RGB in [0, 1]"] > psnr["bicubic"] - 3  # far below, or refused by the output check (NaN)
    files = tiny_nets.save_all(tmp_path)
    r = CliRunner().invoke(cli, ["models", "inspect", str(next(iter(files.values()))), "--probe"])
    assert r.exit_code == 0, r.output
    assert "probe on the built-in sample" in r.output and "RGB in [0, 255]" in r.output and "best:" in r.output
