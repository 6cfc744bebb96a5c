"""srbench.models.archs.fused: the fused SRResNet inference plan against the module it was built from."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn


def _random_srresnet(scale: int, seed: int = 0) -> nn.Module:
    from srbench.models.archs.srresnet import SRResNet

    torch.manual_seed(seed)
    net = SRResNet(scale, n_blocks=3)
    for m in net.modules():  # non-trivial BN statistics and slopes, so folding is really exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
        if isinstance(m, nn.PReLU):
            m.weight.data.uniform_(0.05, 0.4)
    return net.eval()


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("wrapped", [False, True])
def test_fused_plan_equals_the_module(scale: int, wrapped: bool) -> None:
    from srbench.models.archs.fused import fuse
    from srbench.models.archs.srresnet import UnitRange

    net = _random_srresnet(scale)
    module = UnitRange(net).eval() if wrapped else net
    x = torch.rand(2, 3, 11, 13)
    with torch.inference_mode():
        ref = module(x)
        out = fuse(module)(x)
    assert out.shape == ref.shape == (2, 3, 11 * scale, 13 * scale)
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=1e-4)


def test_fused_plan_generic_path_equals_onednn_path() -> None:
    from srbench.models.archs.fused import fuse

    net = _random_srresnet(4, seed=1)
    x = torch.rand(1, 3, 9, 9)
    plan = fuse(net)
    generic = fuse(net)
    for c in [generic.head, generic.post, generic.tail, *[c for c, _ in generic.ups],
              *[c for pair in generic.blocks for c in pair]]:
        c.onednn = False
    torch.testing.assert_close(plan(x), generic(x), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("f", [2, 3])
def test_fold_tail_equals_shuffle_then_conv(f: int) -> None:
    from srbench.models.archs.fused import fold_tail

    torch.manual_seed(f)
    tail = nn.Conv2d(4, 3, 9, padding=4)
    q = torch.rand(1, 4 * f * f, 6, 7)
    w, b, pad = fold_tail(4 * f * f, tail, f)
    got = F.pixel_shuffle(F.conv2d(q, w, b, padding=pad), f)
    torch.testing.assert_close(got, tail(F.pixel_shuffle(q, f)), atol=1e-5, rtol=1e-5)


def test_fuse_rejects_other_networks() -> None:
    from srbench.models.archs.fused import FusionUnsupported, fuse

    with pytest.raises(FusionUnsupported, match="not an SRResNet"):
        fuse(nn.Conv2d(3, 3, 1))

    class LookAlike(nn.Module):  # named like srbench's wrapper, but not it: not recognised by its name
        def __init__(self) -> None:
            super().__init__()
            self.net = _random_srresnet(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x) * 3.0

    LookAlike.__name__ = "UnitRange"
    with pytest.raises(FusionUnsupported, match="not an SRResNet"):
        fuse(LookAlike())


def test_fused_plan_bounds_its_prepacked_weights_and_handles_many_sizes() -> None:
    from srbench.models.archs.fused import PACKED_SHAPES, fuse

    net = _random_srresnet(2, seed=3)
    plan = fuse(net)
    with torch.inference_mode():
        for h in range(5, 5 + PACKED_SHAPES + 3):
            x = torch.rand(1, 3, h, 7)
            torch.testing.assert_close(plan(x), net(x), atol=2e-5, rtol=1e-4)
    if plan.onednn:
        assert len(plan.head._packed) == PACKED_SHAPES
