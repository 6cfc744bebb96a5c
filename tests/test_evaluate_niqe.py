"""NIQE through the run: the metric table drives score(), run.json and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench.data.imresize import bicubic_lr, imresize, modcrop
from srbench.evaluate import RunConfig, evaluate
from srbench.metrics import scorers
from srbench.metrics.niqe import niqe
from srbench.metrics.table import METRIC_TABLE, computed_metrics
from srbench.pipeline import score


def _photo(h: int, w: int) -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()[40:40 + h, 60:60 + w].copy()


def test_run_with_niqe_records_values_metadata_and_draws_the_plane(tmp_path: Path) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(_photo(200, 204)).save(d / "a.png")
    Image.fromarray(_photo(60, 52)).save(d / "small.png")  # too small for NIQE: no NIQE, its other rows kept
    out = evaluate(RunConfig(models=("bicubic",), datasets=(f"folder:{d}",),
                             metrics=("psnr", "ssim", "niqe"), throughput=False), tmp_path / "run", progress=False)
    assert [w for w in out.warnings if "two 96x96 blocks" in w and "small" in w]  # the run's own warning
    by = {(r.image, r.metric): r.value for r in out.rows}
    hr = modcrop(np.asarray(Image.open(d / "a.png")), 4)
    sr = imresize(bicubic_lr(hr, 4), 4)
    assert by[("a", "niqe")] == pytest.approx(niqe(sr.transpose(2, 0, 1), crop_border=4), abs=1e-12)
    assert set(by) == {("a", "psnr"), ("a", "ssim"), ("a", "niqe"), ("small", "psnr"), ("small", "ssim")}
    assert out.errors == []
    meta = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert meta["metrics"]["niqe"]["higher_is_better"] is False
    assert meta["metrics"]["niqe"] == METRIC_TABLE["niqe"].record()
    assert "niqe" in meta["protocol"] and meta["protocol"]["lpips"]["reason"] == "not requested"
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "Perception-distortion plane, " in html and "perceptual quality (NIQE)" in html


def test_score_calls_each_scorer_once_in_table_order(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = scorers.fidelity

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(kwargs["wanted"])
        return real(*args, **kwargs)

    monkeypatch.setattr(scorers, "fidelity", counting)
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-3, 4, hr.shape), 0, 255).astype(np.uint8).transpose(2, 0, 1)
    values = score(sr, hr, 2, ("ssim", "niqe", "psnr", "lpips"), "y", None)
    assert calls == [("ssim", "psnr")]  # one pass for both; LPIPS (stateful, not loaded) skipped
    assert list(values) == ["ssim", "niqe", "psnr"]
    assert values["niqe"] == niqe(sr, crop_border=2)


def test_table_is_consistent() -> None:
    assert computed_metrics() == ("psnr", "ssim", "lpips", "niqe")
    for name, spec in METRIC_TABLE.items():
        assert spec.name == name and spec.display
        if spec.computed:
            assert callable(spec.load())
    assert METRIC_TABLE["niqe"].reference_free and not METRIC_TABLE["niqe"].higher_is_better
    with pytest.raises(ValueError, match="not computed"):
        METRIC_TABLE["mos"].load()
    with pytest.raises(ValueError, match="niqe"):
        RunConfig(metrics=("psnr", "fid"))  # the message lists the known metrics, NIQE among them


def test_an_image_niqe_cannot_score_keeps_its_other_rows(tmp_path: Path) -> None:
    """Issue 23 item 10: NIQE on a flat image raised inside score(), so the image's PSNR row was dropped too
    and the PSNR mean changed when niqe was added. Now NIQE alone has no value for it, with a warning naming
    NIQE and why (no NumPy RuntimeWarning)."""
    import warnings

    from srbench.metrics.scorers import MetricUndefinedWarning

    flat_hr = np.full((256, 256, 3), 120, dtype=np.uint8)
    flat_sr = np.full((3, 256, 256), 121, dtype=np.uint8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = score(flat_sr, flat_hr, 4, ("psnr", "niqe"), "y", None)
    assert values["psnr"] == score(flat_sr, flat_hr, 4, ("psnr",), "y", None)["psnr"]
    assert list(values) == ["psnr"]
    assert [type(w.message) for w in caught] == [MetricUndefinedWarning], [str(w.message) for w in caught]
    assert "niqe" in str(caught[0].message) and "flat" in str(caught[0].message)

    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(_photo(200, 204)).save(d / "a.png")
    Image.fromarray(np.full((200, 200, 3), 90, dtype=np.uint8)).save(d / "flat.png")
    means = {}
    for metrics in (("psnr",), ("psnr", "niqe")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricUndefinedWarning)
            out = evaluate(RunConfig(models=("bicubic",), datasets=(f"folder:{d}",), metrics=metrics,
                                     throughput=False), tmp_path / "-".join(metrics), progress=False)
        assert out.errors == []
        means[metrics] = {s.metric: s for s in out.summary}
        said = [w for w in out.warnings if "flat" in w and "niqe" in w]  # recorded in run.json, naming the image
        assert len(said) == ("niqe" in metrics) and all("bicubic on imgs/flat x4" in w for w in said), out.warnings
    assert means[("psnr", "niqe")]["psnr"].value == means[("psnr",)]["psnr"].value
    assert means[("psnr", "niqe")]["psnr"].n_images == 2 and means[("psnr", "niqe")]["niqe"].n_images == 1
