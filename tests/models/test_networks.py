"""SRResNet / SRGAN discriminator: shapes, ranges and parameter counts worked out by hand from the paper."""

from __future__ import annotations

import pytest
import torch

from srbench.models.archs.srresnet import Discriminator, SRResNet
from srbench.models.fast import count_params


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out  # weights + bias


BN = 2 * 64  # gamma + beta of a 64-channel BatchNorm (running stats are buffers)
PRELU = 1  # one shared slope


def expected_generator_params(scale: int) -> int:
    head = conv(3, 64, 9) + PRELU
    block = 2 * (conv(64, 64, 3) + BN) + PRELU
    post = conv(64, 64, 3) + BN
    x2_stage = conv(64, 256, 3) + PRELU
    ups = {2: x2_stage, 3: conv(64, 576, 3) + PRELU, 4: 2 * x2_stage, 8: 3 * x2_stage}[scale]
    tail = conv(64, 3, 9)
    return head + 16 * block + post + ups + tail


def test_hand_count_is_the_papers_size() -> None:
    # 15,617 + 16 * 74,113 + 37,056 + 2 * 147,713 + 15,555 = 1,549,462 ("about 1.5 M")
    assert expected_generator_params(4) == 1_549_462


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_generator_shapes_and_params(scale: int) -> None:
    net = SRResNet(scale).eval()
    assert count_params(net) == expected_generator_params(scale)
    x = torch.rand(2, 3, 11, 13)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 3, 11 * scale, 13 * scale)
    assert y.min() >= -1 and y.max() <= 1  # tanh output


def test_discriminator_shape_and_params() -> None:
    d = Discriminator(96)
    chans = [64, 64, 128, 128, 256, 256, 512, 512]
    expected = conv(3, 64, 3)
    for c_in, c_out in zip(chans[:-1], chans[1:], strict=False):
        expected += conv(c_in, c_out, 3) + 2 * c_out
    expected += (512 * 6 * 6 * 1024 + 1024) + (1024 + 1)
    assert count_params(d) == expected
    logits = d(torch.rand(3, 3, 96, 96) * 2 - 1)
    assert logits.shape == (3,)


def test_discriminator_rejects_wrong_size() -> None:
    with pytest.raises(ValueError, match="96x96"):
        Discriminator(96)(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match="multiple of 16"):
        Discriminator(100)


def test_unsupported_scale() -> None:
    with pytest.raises(ValueError, match="scales"):
        SRResNet(5)


def test_receptive_radius_is_tight() -> None:
    """Perturbing the LR input ``r`` pixels away changes the output pixel; ``r + 1`` away does not."""
    torch.manual_seed(0)
    net = SRResNet(4).eval()
    r = net.receptive_radius
    assert r == 40
    size = 2 * r + 9
    x = torch.rand(1, 3, size, size)
    c = size // 2
    with torch.no_grad():
        base = net(x)[0, :, 4 * c:4 * c + 4, 4 * c:4 * c + 4]
        for dist, should_change in [(r - 1, True), (r + 1, False)]:
            x2 = x.clone()
            x2[:, :, c + dist, c] += 1.0
            out = net(x2)[0, :, 4 * c:4 * c + 4, 4 * c:4 * c + 4]
            assert bool((out - base).abs().max() > 0) == should_change


def test_x8_is_three_x2_stages_and_its_radius_is_tight() -> None:
    """x8: (conv 64->256, PixelShuffle 2, PReLU) three times; reach 4 + 32 + 1 + 1 + 1/2 + 1/4 + 4/8 = 39.25."""
    torch.manual_seed(1)
    net = SRResNet(8, n_blocks=2).eval()
    shuffles = [m.upscale_factor for m in net.upsample if isinstance(m, torch.nn.PixelShuffle)]
    assert shuffles == [2, 2, 2]
    assert SRResNet(8).receptive_radius == 40
    r = net.receptive_radius  # 4 + 4 + 1 + 1.75 + 0.5 = 11.25 -> 12
    assert r == 12
    size = 2 * r + 5
    x = torch.rand(1, 3, size, size)
    c = size // 2
    with torch.no_grad():
        base = net(x)[0, :, 8 * c:8 * c + 8, 8 * c:8 * c + 8]
        for dist, should_change in [(r - 1, True), (r + 1, False)]:
            x2 = x.clone()
            x2[:, :, c + dist, c] += 1.0
            out = net(x2)[0, :, 8 * c:8 * c + 8, 8 * c:8 * c + 8]
            assert bool((out - base).abs().max() > 0) == should_change
