"""The ``bicubic`` adapter: contract, uint8 semantics, validation, and the published MATLAB-protocol
bicubic x4 figures (docs/protocol.md, "Published reference numbers") reproduced end to end with metrics written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from srbench.contract import check_adapter
from srbench.data.imresize import bicubic_lr, imresize, modcrop
from srbench.data.io import list_images, read_image
from srbench.interfaces import ModelError, ModelInfo, SRModel
from srbench.models.bicubic import BicubicModel, build
from srbench.registry import get_model


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 HWC (C = 1 or 3) -> float32 (1, 3, h, w) in [0, 1]; grey is repeated to RGB."""
    rgb = np.repeat(img, 3 // img.shape[2], axis=2)
    return torch.from_numpy(rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)


def _to_uint8(sr: torch.Tensor) -> np.ndarray:
    return (
        np.floor(np.clip(sr[0].numpy().astype(np.float64), 0, 1) * 255 + 0.5)
        .astype(np.uint8)
        .transpose(1, 2, 0)
    )


def test_is_an_srmodel_and_honours_the_contract() -> None:
    model = build(4)
    assert isinstance(model, BicubicModel) and isinstance(model, SRModel)
    assert (model.name, model.scale, model.device) == ("bicubic", 4, "cpu")
    assert check_adapter(model) == []
    assert check_adapter(build(3)) == []


def test_registry_builds_it() -> None:
    model = get_model("bicubic", 2)
    assert isinstance(model, BicubicModel) and model.scale == 2


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_is_imresize_of_the_uint8_image(scale: int) -> None:
    lr = np.random.default_rng(scale).integers(0, 256, size=(11, 14, 3), dtype=np.uint8)
    sr = build(scale).upscale(_to_tensor(lr))
    assert sr.dtype == torch.float32 and tuple(sr.shape) == (1, 3, 11 * scale, 14 * scale)
    expected = imresize(lr, scale)
    np.testing.assert_array_equal(_to_uint8(sr), expected)
    # uint8 semantics: the output holds exact multiples of 1/255 (what float32 / 255 can represent)
    np.testing.assert_array_equal(
        sr[0].numpy(), expected.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    )


def test_batch_items_are_resized_independently() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 9, 7, generator=g)
    model = build(2)
    batch = model.upscale(x)
    for i in range(3):
        assert torch.equal(batch[i : i + 1], model.upscale(x[i : i + 1]))


def test_input_is_quantised_to_8_bits_first() -> None:
    """The protocol's bicubic works on uint8 LR: a sub-1/255 perturbation changes nothing."""
    lr = np.random.default_rng(1).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    x = _to_tensor(lr)
    model = build(4)
    assert torch.equal(model.upscale(x), model.upscale(x + 0.4 / 255))


def test_out_of_range_input_is_clamped() -> None:
    x = torch.full((1, 3, 5, 5), 1.7)
    assert torch.equal(build(2).upscale(x), torch.ones(1, 3, 10, 10))


def test_output_returns_to_the_input_device_and_does_not_touch_the_input() -> None:
    x = torch.rand(1, 3, 6, 6)
    before = x.clone()
    out = build(2).upscale(x)
    assert out.device == x.device and torch.equal(x, before)


def test_info() -> None:
    info = build(3).info()
    assert isinstance(info, ModelInfo)
    assert info.name == "bicubic" and info.params == 0 and not info.demo and info.weights is None
    assert "x3" in info.description
    assert info.extra["imresize_backend"] in ("numba", "numpy")


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((1, 3, 4, 4), np.float32), "torch.Tensor"),
        (torch.zeros(3, 4, 4), "NCHW"),
        (torch.zeros(1, 1, 4, 4), "NCHW"),
        (torch.zeros(1, 4, 4, 4), "NCHW"),
        (torch.zeros(0, 3, 4, 4), "NCHW"),
        (torch.zeros(1, 3, 0, 4), "NCHW"),
        (torch.zeros(1, 3, 4, 4, dtype=torch.float64), "float32"),
        (torch.zeros(1, 3, 4, 4, dtype=torch.uint8), "float32"),
        (torch.full((1, 3, 4, 4), float("nan")), "NaN"),
    ],
)
def test_upscale_rejects_bad_input_naming_the_model(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=f"bicubic.*{match}"):
        build(4).upscale(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": 0}, "scale"),
        ({"scale": 2.5}, "scale"),
        ({"scale": True}, "scale"),
        ({"scale": 4, "weights": "x.pth"}, "no weights"),
        ({"scale": 4, "colour": "rgb"}, "unknown options"),
        ({"scale": 4, "device": "nonsense"}, "invalid device"),
    ],
)
def test_build_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ModelError, match=f"bicubic.*{match}"):
        build(**kwargs)


def test_tile_options_are_accepted_and_ignored() -> None:
    x = torch.rand(1, 3, 12, 10)
    assert torch.equal(build(2, tile=4, tile_overlap=2).upscale(x), build(2).upscale(x))


# --------------------------------------------------------------------------------------------------
# Tier 2: published MATLAB-protocol bicubic x4 (docs/protocol.md, "Published reference numbers"), metrics written here.


def _y(img: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr Y in [16, 235], not rounded; 1-channel images are used as they are."""
    x = img.astype(np.float64)
    if img.shape[2] == 1:
        return x[:, :, 0]
    return 16.0 + (65.481 * x[:, :, 0] + 128.553 * x[:, :, 1] + 24.966 * x[:, :, 2]) / 255.0


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. ssim_index.m: 11x11 Gaussian sigma 1.5, valid filtering, L = 255."""
    t = np.arange(11) - 5.0
    g = np.exp(-(t**2) / (2 * 1.5**2))
    win = np.outer(g, g) / np.outer(g, g).sum()

    def f(x: np.ndarray) -> np.ndarray:
        return correlate2d(x, win, mode="valid")

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = f(a), f(b)
    var_a, var_b, cov = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(m.mean())


@pytest.mark.parametrize(
    ("dataset", "psnr_pub", "ssim_pub"), [("Set5", 28.42, 0.8104), ("Set14", 26.00, 0.7027)]
)
def test_reproduces_published_bicubic_x4(
    shared_datasets: Path, dataset: str, psnr_pub: float, ssim_pub: float
) -> None:
    """HR -> modcrop -> bicubic_lr -> this adapter -> uint8 -> Y (grey raw), crop 4: within 0.01 dB / 0.001."""
    scale = 4
    model = build(scale)
    psnrs, ssims = [], []
    for path in list_images(shared_datasets / dataset / "HR"):
        hr = modcrop(read_image(path), scale)
        sr = _to_uint8(model.upscale(_to_tensor(bicubic_lr(hr, scale))))
        if hr.shape[2] == 1:
            sr = sr[:, :, :1]
        a, b = _y(sr)[scale:-scale, scale:-scale], _y(hr)[scale:-scale, scale:-scale]
        psnrs.append(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))
        ssims.append(_ssim(a, b))
    assert len(psnrs) == {"Set5": 5, "Set14": 14}[dataset]
    assert abs(np.mean(psnrs) - psnr_pub) < 0.01, np.mean(psnrs)
    assert abs(np.mean(ssims) - ssim_pub) < 0.001, np.mean(ssims)
