"""srresnet / srgan adapters: safe loading, BN folding, tiling, demo weights."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from srbench.files import file_sha256
from srbench.interfaces import ModelError, SRModel
from srbench.models.archs.srresnet import SRResNet
from srbench.models.fast import fold_batchnorm, tiled_forward
from srbench.models.srresnet import build_srgan, build_srresnet, demo_weights_path


def trained_like_net(scale: int = 4, seed: int = 0) -> SRResNet:
    """A network whose BN layers have non-trivial statistics and affine parameters."""
    torch.manual_seed(seed)
    net = SRResNet(scale)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return net.eval()


def test_bn_folding_matches_eval_bn() -> None:
    net = trained_like_net()
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # original untouched
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        a, b = net(x), folded(x)
    assert (a - b).abs().max().item() <= 1e-5


def test_tiled_equals_untiled_when_overlap_covers_receptive_field() -> None:
    net = trained_like_net(seed=1)
    folded = fold_batchnorm(net)
    x = torch.rand(1, 3, 70, 57)
    with torch.no_grad():
        whole = folded(x)
        tiled = tiled_forward(folded, x, 4, tile=24, overlap=net.receptive_radius)
        short = tiled_forward(folded, x, 4, tile=24, overlap=4)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max().item() <= 1e-5
    assert (short - whole).abs().max().item() > 1e-4  # too little overlap is visibly different


def test_tiling_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="tile"):
        tiled_forward(lambda t: t, torch.zeros(1, 3, 8, 8), 1, tile=0, overlap=1)


@pytest.fixture()
def weights_file(tmp_path: Path) -> Path:
    net = trained_like_net(seed=2)
    path = tmp_path / "g.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def test_adapter_from_safetensors(weights_file: Path) -> None:
    model = build_srresnet(4, weights=str(weights_file))
    assert isinstance(model, SRModel)
    info = model.info()
    assert info.weights_sha256 == file_sha256(weights_file) and not info.demo
    assert info.params == 1_549_462
    lr = torch.rand(1, 3, 16, 12)
    sr = model.upscale(lr)
    assert sr.shape == (1, 3, 64, 48) and sr.dtype == torch.float32
    net = trained_like_net(seed=2)
    with torch.no_grad():
        ref = (net(lr) + 1) / 2  # the adapter maps tanh [-1, 1] to [0, 1]
    assert (sr - ref).abs().max().item() <= 1e-5
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.module.modules())
    assert not model.module.training
    tiled = build_srresnet(4, weights=str(weights_file), tile=8)
    assert (tiled.upscale(lr) - sr).abs().max().item() <= 1e-5


def test_adapter_from_torch_state_dict(tmp_path: Path) -> None:
    net = trained_like_net(seed=3)
    path = tmp_path / "ckpt.pt"
    torch.save({"generator": net.state_dict(), "step": 5}, path)
    model = build_srgan(4, weights=str(path))
    with torch.no_grad():
        ref = (net(torch.full((1, 3, 8, 8), 0.5)) + 1) / 2
    assert (model.upscale(torch.full((1, 3, 8, 8), 0.5)) - ref).abs().max().item() <= 1e-5


class _Evil:
    def __reduce__(self):  # executed by an unsafe unpickler
        return (os.system, ("touch " + str(_Evil.marker),))


def test_unsafe_checkpoint_is_rejected_without_running_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _Evil.marker = marker
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"generator": _Evil()}, f)
    torch.save({"generator": _Evil()}, tmp_path / "evil2.pt")
    for p in (path, tmp_path / "evil2.pt"):
        with pytest.raises(ModelError, match="weights_only"):
            build_srresnet(4, weights=str(p))
    assert not marker.exists()


def test_wrong_architecture_and_missing_file(weights_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="x2"):
        build_srresnet(2, weights=str(weights_file))
    with pytest.raises(ModelError, match="not found"):
        build_srresnet(4, weights=str(tmp_path / "nope.safetensors"))
    with pytest.raises(ModelError, match="unknown options"):
        build_srresnet(4, weights=str(weights_file), colour="bgr")


def test_no_packaged_weights_for_x2_says_how_to_get_some() -> None:
    with pytest.raises(ModelError, match="srbench train srresnet"):
        build_srresnet(2)


def test_bad_input_is_a_value_error(weights_file: Path) -> None:
    model = build_srresnet(4, weights=str(weights_file))
    with pytest.raises(ValueError, match="RGB NCHW"):
        model.upscale(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="float32"):
        model.upscale(torch.zeros(1, 3, 8, 8, dtype=torch.float64))


@pytest.mark.parametrize("name,build", [("srresnet", build_srresnet), ("srgan", build_srgan)])
def test_demo_weights_are_packaged_and_labelled(name: str, build) -> None:
    path = demo_weights_path(name)
    assert path.is_file(), f"demo weights missing: {path}"
    assert path.stat().st_size < 4_000_000  # fp16: about 3 MB
    model = build(4)
    info = model.info()
    assert info.demo and info.name == name and "DEMO" in info.description and "steps" in info.description
    assert info.weights_sha256 == file_sha256(path)
    sr = model.upscale(torch.rand(1, 3, 8, 8))
    assert torch.isfinite(sr).all()


def test_demo_srresnet_beats_bicubic_on_a_set5_image(shared_datasets: Path) -> None:
    """The packaged demo SRResNet x4 on Set5 'bird' (the full-set figures are in baselines/demo/README.md)."""

    from srbench.data.imresize import bicubic_lr, imresize
    from srbench.data.io import read_image
    from srbench.metrics import psnr

    hr = read_image(shared_datasets / "Set5" / "HR" / "bird.png")
    lr = bicubic_lr(hr, 4)
    hr = hr[: lr.shape[0] * 4, : lr.shape[1] * 4]
    sr = build_srresnet(4).upscale(torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float() / 255)
    sr_u8 = sr[0].clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    bic = imresize(lr, 4).transpose(2, 0, 1)
    gain = psnr(sr_u8, hr.transpose(2, 0, 1), crop_border=4) - psnr(bic, hr.transpose(2, 0, 1), crop_border=4)
    assert gain > 1.0, gain


def test_x8_adapter_runs_the_fused_plan_and_matches_the_network(tmp_path: Path) -> None:
    """x8 = three x2 stages: the adapter's fused plan (BN folded, shuffles re-ordered) equals the network."""
    net = trained_like_net(scale=8, seed=5)
    path = tmp_path / "g8.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    model = build_srresnet(8, weights=str(path))
    from srbench.models.archs.fused import FusedSRResNet

    assert isinstance(model._forward, FusedSRResNet)
    x = torch.rand(1, 3, 9, 7, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = (net(x) + 1) / 2
    out = model.upscale(x)
    assert out.shape == (1, 3, 72, 56)
    assert float(ref.std()) > 0.01
    torch.testing.assert_close(out, ref, rtol=0, atol=5e-5)
