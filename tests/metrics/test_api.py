"""The metric API (srbench.metrics.psnr/ssim/niqe/lpips, srbench.imresize): every input type gives the
harness's numbers, ambiguous input is refused, and `srbench run`'s per-image values are reproduced."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import srbench
from srbench import metrics
from srbench.metrics import fidelity

SCALE = 4


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    """(sr, hr) uint8 HWC, 48 x 40: an image and a noisy copy."""
    import skimage.data

    hr = skimage.data.astronaut()[100:148, 150:190].copy()
    noise = np.random.default_rng(0).normal(0, 6, hr.shape)
    return np.clip(hr + noise, 0, 255).round().astype(np.uint8), hr


def _reference(sr: np.ndarray, hr: np.ndarray, fn: str = "psnr", **kw) -> float:
    """The harness's function on CHW uint8 (what scorers.fidelity calls)."""
    return getattr(fidelity, fn)(sr.transpose(2, 0, 1), hr.transpose(2, 0, 1), crop_border=SCALE, **kw)


@pytest.mark.parametrize("fn", ["psnr", "ssim"])
def test_every_input_type_gives_the_harness_number(pair, fn: str) -> None:
    sr, hr = pair
    want = _reference(sr, hr, fn)
    f = getattr(metrics, fn)
    chw = lambda x: x.transpose(2, 0, 1)  # noqa: E731
    cases = {
        "numpy HWC uint8": (sr, hr, {}),
        "numpy CHW uint8": (chw(sr), chw(hr), {}),
        "numpy HWC float [0,1]": (sr / 255.0, hr / 255.0, {}),
        "numpy CHW float32 [0,1]": (chw(sr).astype(np.float32) / 255, chw(hr).astype(np.float32) / 255, {}),
        "numpy HWC float 0..255": (sr.astype(np.float64), hr.astype(np.float64), {"data_range": 255}),
        "numpy NHWC batch of 1": (sr[None], hr[None], {}),
        "PIL RGB": (Image.fromarray(sr), Image.fromarray(hr), {}),
        "torch CHW uint8": (torch.from_numpy(chw(sr).copy()), torch.from_numpy(chw(hr).copy()), {}),
        "torch NCHW float [0,1]": (torch.from_numpy(chw(sr).copy())[None].float() / 255,
                                   torch.from_numpy(chw(hr).copy())[None].float() / 255, {}),
        "torch HWC with layout": (torch.from_numpy(sr), torch.from_numpy(hr), {"layout": "hwc"}),
        "mixed PIL and numpy": (Image.fromarray(sr), chw(hr), {}),
    }
    for name, (a, b, kw) in cases.items():
        got = f(a, b, scale=SCALE, **kw)
        assert isinstance(got, float), name
        tol = 1e-5 if "float32" in name or "torch NCHW float" in name else 1e-9  # k/255 in float32
        assert got == pytest.approx(want, abs=tol), name
    # scale is positional; crop_border overrides it; RGB on request
    assert f(sr, hr, SCALE) == pytest.approx(want, abs=1e-9)
    assert f(sr, hr, crop_border=SCALE) == pytest.approx(want, abs=1e-9)
    assert f(sr, hr, SCALE, y_channel=False) == pytest.approx(_reference(sr, hr, fn, y_channel=False), abs=1e-9)


def test_grayscale_inputs(pair) -> None:
    sr, hr = pair[0][..., 1], pair[1][..., 1]
    want = fidelity.psnr(sr[None], hr[None], crop_border=SCALE)
    assert metrics.psnr(sr, hr, SCALE) == pytest.approx(want)  # HW
    assert metrics.psnr(Image.fromarray(sr), Image.fromarray(hr), SCALE) == pytest.approx(want)  # PIL L
    assert metrics.psnr(sr[..., None], hr[..., None], SCALE) == pytest.approx(want)  # HW1


def test_batches_mean_or_per_image(pair) -> None:
    sr, hr = pair
    other = np.ascontiguousarray(sr[::-1])
    per_image = [_reference(sr, hr), _reference(other, hr)]
    t = lambda x: torch.from_numpy(np.stack(x).transpose(0, 3, 1, 2).copy())  # noqa: E731
    assert metrics.psnr(t([sr, other]), t([hr, hr]), SCALE, reduction="none") == pytest.approx(per_image)
    assert metrics.psnr(t([sr, other]), t([hr, hr]), SCALE) == pytest.approx(np.mean(per_image))  # the mean
    assert metrics.psnr(np.stack([sr, other]), np.stack([hr, hr]), SCALE) == pytest.approx(np.mean(per_image))
    assert metrics.psnr(sr, hr, SCALE, reduction="none") == pytest.approx(per_image[:1])
    assert metrics.psnr(hr, hr) == math.inf


@pytest.mark.parametrize(
    ("a", "b", "kw", "match"),
    [
        (np.zeros((3, 20, 3)), np.zeros((3, 20, 3)), {}, "could be CHW or HWC; pass layout"),
        (np.full((20, 20, 3), 200.0), np.zeros((20, 20, 3)), {}, r"not in \[0, 1\]; pass data_range=255"),
        (np.zeros((20, 20, 3), np.uint8), np.zeros((20, 20, 3), np.uint8), {"data_range": 1.0}, "uint8 images"),
        (np.zeros((20, 20, 3), np.int64), np.zeros((20, 20, 3), np.int64), {}, "dtype int64"),
        (np.zeros((20, 20, 4)), np.zeros((20, 20, 4)), {}, "C = 1 or 3"),
        (np.zeros((20, 20, 3)), np.zeros((20, 20, 3)), {"layout": "nhwc"}, "layout must be"),
        (np.zeros((20, 20, 3)), np.zeros((20, 20, 3)), {"reduction": "sum"}, "reduction must be"),
        (np.zeros((2, 20, 20, 3)), np.zeros((20, 20, 3)), {}, "batches differ"),
        (Image.new("RGBA", (20, 20)), Image.new("RGBA", (20, 20)), {}, "mode 'RGBA'"),
    ],
)
def test_ambiguous_or_wrong_input_is_refused(a, b, kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        metrics.psnr(a, b, **kw)


def test_niqe_on_every_input_type() -> None:
    import skimage.data

    from srbench.metrics.niqe import niqe as harness_niqe

    img = skimage.data.astronaut()[:200, :200].copy()
    want = harness_niqe(img.transpose(2, 0, 1), crop_border=SCALE)
    assert metrics.niqe(img, SCALE) == pytest.approx(want, abs=1e-12)
    assert metrics.niqe(Image.fromarray(img), SCALE) == pytest.approx(want, abs=1e-12)
    assert metrics.niqe(torch.from_numpy(img.transpose(2, 0, 1).copy())[None], SCALE) == pytest.approx(want)
    assert metrics.niqe(img / 255.0, scale=SCALE) == pytest.approx(want, abs=1e-9)


def test_lpips_on_every_input_type(pair) -> None:
    sr, hr = pair
    torch.manual_seed(0)
    net = metrics.api._lpips_metric("alex", "random", "cpu")  # untrained backbone: the plumbing only
    want = net(sr.transpose(2, 0, 1), hr.transpose(2, 0, 1), crop_border=SCALE)
    kw = {"weights": "random", "scale": SCALE}
    assert metrics.lpips(sr, hr, **kw) == pytest.approx(want, abs=1e-6)
    assert metrics.lpips(Image.fromarray(sr), Image.fromarray(hr), **kw) == pytest.approx(want, abs=1e-6)
    t = lambda x: torch.from_numpy(x.transpose(2, 0, 1).copy())[None].float() / 255  # noqa: E731
    assert metrics.lpips(t(sr), t(hr), **kw) == pytest.approx(want, abs=1e-6)


def test_public_surface() -> None:
    assert set(metrics.__all__) >= {"psnr", "ssim", "niqe", "lpips"} and "psnr" in dir(metrics)
    assert {"imresize", "metrics"} <= set(srbench.__all__) and "imresize" in dir(srbench)
    import importlib

    importlib.import_module("srbench.metrics.niqe")  # binding the submodule must not hide the function
    assert metrics.niqe is metrics.api.niqe and srbench.metrics.niqe is metrics.api.niqe
    from srbench.data.imresize import imresize

    assert srbench.imresize is imresize
    img = np.arange(48 * 40 * 3, dtype=np.uint8).reshape(48, 40, 3)
    assert srbench.imresize(img, 1 / 4).shape == (12, 10, 3)


def test_same_numbers_as_srbench_run(tmp_path: Path) -> None:
    """`srbench run` (bicubic x4 on a folder of small images) vs the API on the SR images the run saved."""
    import skimage.data

    from srbench.evaluate import RunConfig, evaluate
    from srbench.rundir import load_results

    folder = tmp_path / "imgs"
    folder.mkdir()
    astronaut = skimage.data.astronaut()
    Image.fromarray(astronaut[100:160, 150:202].copy()).save(folder / "a.png")
    Image.fromarray(astronaut[300:348, 200:264].copy()).save(folder / "b.png")
    Image.fromarray(skimage.data.camera()[200:256, 200:256].copy()).save(folder / "c.png")  # grayscale
    cfg = RunConfig(models=("bicubic",), datasets=(f"folder:{folder}",), scales=(SCALE,), throughput=False,
                    metrics=("psnr", "ssim"), compare=("a", "b", "c"))
    out = evaluate(cfg, tmp_path / "run", progress=False)
    assert out.ok, out.errors
    run_dir = tmp_path / "run"
    values = load_results(run_dir).set_index(["image", "metric"])["value"]
    comparisons = json.loads((run_dir / "run.json").read_text())["comparisons"]
    assert {c["image"] for c in comparisons} == {"a", "b", "c"}
    for c in comparisons:
        sr, hr = Image.open(run_dir / c["models"]["bicubic"]), Image.open(run_dir / c["hr"])
        assert metrics.psnr(sr, hr, scale=SCALE) == pytest.approx(values[c["image"], "psnr"], abs=1e-12)
        assert metrics.ssim(np.asarray(sr), np.asarray(hr), SCALE) == pytest.approx(values[c["image"], "ssim"],
                                                                                    abs=1e-12)
