"""The one 8-bit quantiser: MATLAB rounding, and the same PSNR in `srbench run` and in training validation
(issue 10.4: validation used torch's round-half-even on the tanh output, so it scored slightly different
images than the harness)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from srbench.interfaces import ImagePair
from srbench.pipeline import run_model, score
from srbench.quantise import quantise_sr, round_uint8, unit_to_uint8
from srbench.training.loop import validate


def test_round_uint8_is_matlab_rounding() -> None:
    a = np.array([-3.0, 0.49999999999999994, 0.5, 1.5, 2.5, 254.5, 255.4, 300.0])
    assert round_uint8(a).tolist() == [0, 0, 1, 2, 3, 255, 255, 255]  # half away from zero, saturating
    assert unit_to_uint8(np.array([0.0, 0.5 / 255, 2.5 / 255, 1.2])).tolist() == [0, 1, 3, 255]


def test_quantise_sr_shapes_and_grey() -> None:
    x = torch.tensor([[[[0.2]], [[0.4]], [[0.6 + 0.5 / 255]]]])  # (1, 3, 1, 1)
    assert quantise_sr(x, 3).shape == (3, 1, 1)
    assert quantise_sr(x, 1).tolist() == [[[round_uint8(np.array([255 * (0.2 + 0.4 + 0.6 + 0.5 / 255) / 3]))[0]]]]
    with pytest.raises(ValueError, match="one image"):
        quantise_sr(np.zeros((2, 3, 4, 4)), 3)


def _near_half_points(h: int, w: int) -> torch.Tensor:
    """Tanh-range values whose 8-bit value sits at k + 0.5 within float32 noise, for every k: where
    round-half-even and MATLAB rounding (and float32 vs float64 scaling) disagree."""
    vals = []
    for k in range(255):
        t = np.float32((k + 0.5) / 127.5 - 1.0)
        for _ in range(12):
            t = np.nextafter(t, np.float32(-2))
        for _ in range(25):
            vals.append(t)
            t = np.nextafter(t, np.float32(2))
    flat = np.resize(np.array(vals, dtype=np.float32), 3 * h * w)
    return torch.from_numpy(flat.reshape(1, 3, h, w))


class _Net(nn.Module):  # a generator whose tanh output is fixed
    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.out


class _Adapter:  # the evaluate side: the adapters map tanh output to [0, 1] as (t + 1) * 0.5 in float32
    name, device = "fake", "cpu"

    def __init__(self, out: torch.Tensor) -> None:
        self.out = out

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        return (self.out + 1.0) * 0.5


@pytest.mark.parametrize("channels", [3, 1])
def test_training_validation_and_run_give_the_same_psnr_on_the_same_sr(channels: int) -> None:
    h, w, scale = 96, 96, 4
    t = _near_half_points(h, w)
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, size=(h, w, channels), dtype=np.uint8)
    pair = ImagePair("img", rng.integers(0, 256, size=(h // scale, w // scale, channels), dtype=np.uint8), hr, scale)

    train_psnr, train_ssim = validate(_Net(t), [pair], scale, torch.device("cpu"), None, 0, 0)
    run = score(run_model(_Adapter(t), pair), hr, scale, ("psnr", "ssim"), "y", None)
    assert train_psnr == run["psnr"] and train_ssim == run["ssim"]

    # the test has teeth: the old validation quantiser gives a different image on this SR tensor
    old = (t.float().add(1).mul(127.5)).clamp(0, 255).round()[0]
    if channels == 1:
        old = old.mean(0, keepdim=True).round()
    assert (old.to(torch.uint8).numpy() != quantise_sr((t + 1.0) * 0.5, channels)).any()


def _old_quantise_sr(sr: object, channels: int) -> np.ndarray:
    """The quantiser before issue 23 item 13 (whole-image float64 temporaries), as the reference."""
    if hasattr(sr, "detach"):
        sr = sr.detach().float().cpu().numpy()
    x = np.asarray(sr, dtype=np.float64)
    if x.ndim == 4:
        x = x[0]
    if channels == 1:
        x = x.mean(axis=0, keepdims=True)
    a = np.clip(x, 0.0, 1.0) * 255.0
    out = np.floor(a)
    out += (a - out) >= 0.5
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract:RuntimeWarning")  # inf - inf, as before
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_chunked_quantiser_gives_the_old_values(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    """Issue 23 item 13: the quantiser works in chunks (the 16-Mpixel output of a 4000x4000 x4 image took
    1.5 GiB of float64 temporaries); the values are the old formula's, ties and out-of-range included."""
    import srbench.quantise as q

    rng = np.random.default_rng(7)
    h, w = 37, 53
    x = rng.uniform(-0.2, 1.2, (1, 3, h, w))
    flat = x.reshape(-1)
    ties = np.array([(k + 0.5) / 255.0 for k in range(256)])  # k + 0.5 on the 0..255 scale (or a hair off)
    flat[: ties.size] = ties
    flat[300:310] = [0.0, 1.0, -0.0, -5.0, 7.0, np.inf, -np.inf, 0.5 / 255, 254.5 / 255, 1 - 1e-17]
    flat[400:656] = np.arange(256) / 255.0 + 0.5 / 255.0
    x = x.astype(dtype)
    monkeypatch.setattr(q, "CHUNK", 1000)  # many chunks, the last one partial, rows split across them
    for channels in (3, 1):
        for given in (x, x[0], torch.from_numpy(x), torch.from_numpy(x[0].copy())):
            want = _old_quantise_sr(given, channels)  # (a torch tensor goes through float32 in both)
            got = q.quantise_sr(given, channels)
            assert got.dtype == np.uint8 and got.shape == want.shape
            assert np.array_equal(got, want), (channels, type(given))
    a = flat[:2000].astype(np.float64) * 255.0
    np.testing.assert_array_equal(q.round_uint8(a), np.clip(np.floor(a) + ((a - np.floor(a)) >= 0.5), 0, 255))
    np.testing.assert_array_equal(q.unit_to_uint8(x), _old_quantise_sr(x, 3)[None])
    assert q.round_uint8(a.reshape(40, 50)[:, ::2]).shape == (40, 25)  # a non-contiguous view


def test_the_quantiser_keeps_its_temporaries_small() -> None:
    """No whole-image float64 temporary: the traced peak stays near the uint8 output (tracemalloc counts
    numpy's buffers), where the old formula took ~6 float64 copies of the image."""
    import tracemalloc

    x = torch.rand(1, 3, 600, 600)
    tracemalloc.start()
    try:
        quantise_sr(x, 3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out_bytes = 3 * 600 * 600
    assert peak < out_bytes + 40 * 2**20, peak / 2**20  # the output + chunk scratch (CHUNK float64 x 3)
    assert peak < 8 * 3 * 600 * 600  # less than one float64 copy of the image
