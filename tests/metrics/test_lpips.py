"""LPIPS plumbing: the lpips package with a random backbone (offline), real weights when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from srbench.metrics.perceptual import LPIPSMetric, LPIPSUnavailable, find_backbone, hub_checkpoint_dir


@pytest.fixture(scope="module")
def metric() -> LPIPSMetric:
    torch.manual_seed(0)
    return LPIPSMetric("alex", backbone="random")


def _images() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    hr = rng.random((3, 64, 64))
    small = np.clip(hr + 0.02 * rng.standard_normal(hr.shape), 0, 1)
    large = np.clip(hr + 0.2 * rng.standard_normal(hr.shape), 0, 1)
    return hr, small, large


def test_identical_is_zero_and_distortion_orders(metric: LPIPSMetric) -> None:
    hr, small, large = _images()
    assert metric(hr, hr) == pytest.approx(0.0, abs=1e-7)
    assert 0 < metric(small, hr) < metric(large, hr)


def test_inputs_go_to_the_network_in_minus_one_one(metric: LPIPSMetric) -> None:
    hr, _, large = _images()
    direct = metric.model(torch.from_numpy(large * 2 - 1).float()[None], torch.from_numpy(hr * 2 - 1).float()[None])
    assert metric(large, hr) == pytest.approx(float(direct), rel=1e-5)
    wrong = metric.model(torch.from_numpy(large).float()[None], torch.from_numpy(hr).float()[None])
    assert abs(float(wrong) - metric(large, hr)) > 1e-4


def test_crop_border_and_grayscale(metric: LPIPSMetric) -> None:
    hr, _, large = _images()
    framed = large.copy()
    framed[:, 4:-4, 4:-4] = hr[:, 4:-4, 4:-4]
    assert metric(framed, hr, crop_border=4) == pytest.approx(0.0, abs=1e-7)
    assert metric(large[:1], hr[:1]) > 0


def test_backbone_loaded_from_a_configured_file(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(1)
    tv = torchvision.models.alexnet()
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(tv.state_dict(), path)
    m = LPIPSMetric("alex", backbone=path)
    assert torch.equal(getattr(m.model.net.slice1, "0").weight, tv.features[0].weight)
    assert torch.equal(getattr(m.model.net.slice5, "10").weight, tv.features[10].weight)
    assert m.info.backbone == str(path) and len(m.info.backbone_sha256 or "") == 64


def test_missing_backbone_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("SRBENCH_LPIPS_BACKBONE", raising=False)
    with pytest.raises(LPIPSUnavailable, match=r"LPIPS unavailable: .*alexnet-owt-7be5be79\.pth.*--lpips-weights"):
        find_backbone("alex")
    with pytest.raises(LPIPSUnavailable, match="not found"):
        find_backbone("alex", tmp_path / "nope.pth")


@pytest.mark.skipif(not (hub_checkpoint_dir() / "alexnet-owt-7be5be79.pth").exists(),
                    reason="real AlexNet ImageNet weights not in the torch hub cache (offline machine)")
def test_real_weights_agree_with_the_lpips_package() -> None:
    import lpips

    hr, _, large = _images()
    ours = LPIPSMetric("alex")(large, hr)
    ref = lpips.LPIPS(net="alex", verbose=False)(torch.from_numpy(large * 2 - 1).float()[None],
                                                torch.from_numpy(hr * 2 - 1).float()[None])
    assert ours == pytest.approx(float(ref), rel=1e-5)
