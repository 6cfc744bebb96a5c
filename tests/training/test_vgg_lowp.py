"""VGGContentLoss under autocast runs a low-precision copy of its frozen weights (cast once, not on every
forward): the loss and the SR gradient are those of plain autocast, bit for bit."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srbench.training.losses import VGG_RESCALE, VGGContentLoss


def test_lowp_copy_gives_plain_autocasts_loss_and_gradient() -> None:
    m = VGGContentLoss("vgg22", "random")
    g = torch.Generator().manual_seed(0)
    sr = (torch.rand(2, 3, 24, 24, generator=g) * 2 - 1).requires_grad_()
    hr = torch.rand(2, 3, 24, 24, generator=g) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = m(sr, hr)
        ref = F.mse_loss(m.features(torch.addcmul(m.b, sr, m.a)) * VGG_RESCALE,
                         m.features(torch.addcmul(m.b, hr, m.a)).detach() * VGG_RESCALE)
    (g1,) = torch.autograd.grad(loss, sr)
    (g2,) = torch.autograd.grad(ref, sr)
    assert torch.equal(loss, ref) and torch.equal(g1, g2)
    first = m._lowp_cache[1]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m(sr, hr)
    assert m._lowp_cache[1] is first  # cast once
    with torch.no_grad():
        m.features[0].weight.mul_(2.0)  # weights changed: the copy is rebuilt
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m(sr, hr)
    assert m._lowp_cache[1] is not first
    assert "_lowp_cache" not in "".join(m.state_dict())  # not saved with the model
    fp32 = m(sr, hr)  # without autocast: the fp32 network itself
    assert fp32.dtype == torch.float32
