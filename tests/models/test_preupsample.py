"""Pre-upsampling / Y-only adapters (SRCNN, VDSR style): MATLAB colour conversion and recombination."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import color

from srbench.contract import check_adapter
from srbench.data.imresize import imresize
from srbench.interfaces import ModelError
from srbench.models.archs.detect import SRCNN
from srbench.models.files.checkpoint import build_srcnn
from srbench.models.files.preupsample import PreUpsampleAdapter, rgb_to_ycbcr, ycbcr_to_rgb
from srbench.registry import get_model, list_models
from tests.models import tiny_nets


def _lr(h: int = 9, w: int = 11, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (1, 3, h, w), generator=g).float() / 255.0


def test_colour_conversion_matches_skimages_matlab_coefficients() -> None:
    rgb = np.random.default_rng(0).random((3, 5, 7))
    ours = rgb_to_ycbcr(rgb)
    ref = color.rgb2ycbcr(rgb.transpose(1, 2, 0)).transpose(2, 0, 1) / 255.0  # MATLAB's, Y in [16, 235]
    assert np.abs(ours - ref).max() < 1e-12
    back = color.ycbcr2rgb(ours.transpose(1, 2, 0) * 255.0).transpose(2, 0, 1)
    assert np.abs(ycbcr_to_rgb(ours) - back).max() < 1e-12
    assert np.abs(ycbcr_to_rgb(ours) - rgb).max() < 1e-12


@pytest.fixture()
def srcnn_file(tmp_path: Path) -> tuple[SRCNN, Path]:
    torch.manual_seed(0)
    net = SRCNN(n1=16, n2=8).eval()  # 9-1-5, fewer filters than the paper's 64/32
    with torch.no_grad():  # trained-like: near the identity on Y (Y > 0 passes the ReLUs), plus noise
        for conv in (net.conv1, net.conv2, net.conv3):
            conv.weight.mul_(0.01)
            conv.bias.zero_()
            k = conv.weight.shape[-1] // 2
            conv.weight[0, 0, k, k] += 1.0
    return net, tiny_nets.save(net, tmp_path / "srcnn_915.pth")


def test_srcnn_file_runs_as_the_matlab_code_does(srcnn_file: tuple[SRCNN, Path]) -> None:
    net, path = srcnn_file
    model = get_model(f"file:{path}", 3)
    assert isinstance(model, PreUpsampleAdapter) and model.pre_upsample and model.y_only
    extra = model.info().extra
    assert extra["architecture"] == "SRCNN (pre-upsampling, Y)" and extra["file_scale"] == 1
    assert "9-1-5" in extra["tags"] and model.info().params == sum(p.numel() for p in net.parameters())
    lr = _lr()
    got = model.upscale(lr).double().numpy()[0]
    # independent recomputation: skimage's MATLAB YCbCr, uint8 rounding of rgb2ycbcr(uint8), MATLAB imresize
    u8 = (lr[0].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
    ycc = np.floor(color.rgb2ycbcr(u8) + 0.5) / 255.0
    up = imresize(ycc, 3)
    with torch.inference_mode():
        y = net(torch.from_numpy(up[None, None, :, :, 0]).float())[0, 0].double().numpy()
    want = color.ycbcr2rgb(np.dstack([y, up[..., 1], up[..., 2]]) * 255.0).transpose(2, 0, 1)
    assert got.shape == (3, 27, 33)
    assert np.abs(got - want).max() < 1e-5


def test_identity_network_gives_the_bicubic_y_and_cbcr() -> None:
    model = PreUpsampleAdapter("id", 4, torch.nn.Identity())
    lr = _lr(6, 5)
    out = model.upscale(lr).double().numpy()[0]
    u8 = np.floor(lr[0].double().numpy() * 255 + 0.5) / 255
    ycc = np.floor(rgb_to_ycbcr(u8) * 255 + 0.5) / 255
    up = imresize(ycc.transpose(1, 2, 0), 4).transpose(2, 0, 1)
    assert np.abs(rgb_to_ycbcr(out) - up).max() < 1e-6  # float32 output: Y, Cb and Cr all bicubic


def test_rgb_pre_upsampling_feeds_the_bicubic_rgb() -> None:
    model = PreUpsampleAdapter("rgb", 2, torch.nn.Identity(), y_only=False)
    lr = _lr(5, 8)
    want = imresize(lr[0].double().numpy().transpose(1, 2, 0), 2).transpose(2, 0, 1)
    assert np.abs(model.upscale(lr).double().numpy()[0] - want).max() < 1e-6


def test_srcnn_adapter_api_and_contract(srcnn_file: tuple[SRCNN, Path]) -> None:
    _, path = srcnn_file
    assert "srcnn" not in list_models()  # no weights shipped: not a built-in name
    with pytest.raises(ModelError, match="ships no SRCNN weights"):
        build_srcnn(2)
    model = build_srcnn(2, weights=str(path))
    assert check_adapter(model) == []


def test_a_network_returning_the_wrong_size_is_a_model_error() -> None:
    model = PreUpsampleAdapter("bad", 2, lambda t: t[..., :-1])
    with pytest.raises(ModelError, match="returned shape"):
        model.upscale(_lr())
    with pytest.raises(ValueError, match="RGB NCHW"):
        model.upscale(torch.rand(1, 1, 4, 4))
