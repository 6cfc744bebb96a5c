"""LPIPS provenance in run.json: backbone path and sha256, the lpips package version and its heads."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from srbench.config import RunConfig
from srbench.files import file_sha256
from srbench.pipeline import load_lpips

torch = pytest.importorskip("torch")


def _lpips(config: RunConfig):
    return load_lpips(config.metrics, config.lpips_net, config.lpips_weights, config.device)


def test_protocol_records_backbone_sha256_and_lpips_version(tmp_path: Path) -> None:
    import lpips
    import torchvision

    torch.manual_seed(0)
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(torchvision.models.alexnet().state_dict(), path)
    metric, info = _lpips(RunConfig(metrics=("psnr", "lpips"), lpips_weights=str(path)))
    assert metric is not None and info["available"] is True
    assert info["backbone"] == str(path) and info["backbone_sha256"] == file_sha256(path)
    assert info["package_version"] == version("lpips")
    head = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    assert Path(info["head"]) == head.resolve() and info["head_sha256"] == file_sha256(head)
    assert (info["net"], info["version"], info["range"]) == ("alex", "0.1", "[-1,1]")


def test_unavailable_lpips_keeps_the_reason(tmp_path: Path) -> None:
    metric, info = _lpips(RunConfig(metrics=("lpips",), lpips_weights=str(tmp_path / "missing.pth")))
    assert metric is None and info["available"] is False and "not found" in info["reason"]
