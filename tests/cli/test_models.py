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
