"""srbench doctor: optional weights and extras, present or not, and where they are looked for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from srbench.cli import cli
from srbench.doctor import diagnose, render

NAMES = ["lpips", "LPIPS alex backbone", "LPIPS vgg backbone", "NIQE pristine model", "Datasets folder",
         "VGG19 (training)",
         "tensorflow", "onnxruntime", "spandrel", "numba", "CUDA"]


def test_missing_weights_say_where_they_are_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("SRBENCH_LPIPS_BACKBONE", raising=False)
    found = {f.name: f for f in diagnose()}
    assert list(found) == NAMES
    alex = found["LPIPS alex backbone"]
    assert not alex.present and "alexnet-owt-7be5be79.pth not found" in alex.found
    assert str(tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth") in alex.where
    vgg19 = found["VGG19 (training)"]
    assert not vgg19.present and str(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in vgg19.where
    niqe = found["NIQE pristine model"]
    assert niqe.present and niqe.sha256 and len(niqe.sha256) == 64
    assert found["numba"].present == (found["numba"].found != "not installed")
    text = render(list(found.values()))
    assert "[ ] LPIPS alex backbone" in text and "[x] NIQE pristine model" in text


def test_configured_backbone_is_found_and_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "my-alexnet.pth"
    weights.write_bytes(b"not really weights")
    monkeypatch.setenv("SRBENCH_LPIPS_BACKBONE", str(weights))
    alex = next(f for f in diagnose() if f.name == "LPIPS alex backbone")
    assert alex.present and alex.sha256 == hashlib.sha256(b"not really weights").hexdigest()
    assert "sha256 differs from torchvision's" in alex.found
    assert alex.where[0] == f"{weights} ($SRBENCH_LPIPS_BACKBONE)"


def test_cli_doctor_json() -> None:
    r = CliRunner().invoke(cli, ["doctor", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert [d["name"] for d in doc] == NAMES
    assert all(isinstance(d["present"], bool) and d["where"] for d in doc)
    assert "looked in:" in CliRunner().invoke(cli, ["doctor"]).output
