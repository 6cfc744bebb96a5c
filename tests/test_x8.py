"""x8 through every layer of the stack: imresize, the protocol (crop = 8), the published figures, the paper
tables and the regression check. (Networks x8: tests/models/test_networks.py; catalogue x8:
tests/data/test_catalogue.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from srbench.data.imresize import bicubic_lr, imresize, modcrop
from tests.data.test_imresize import reference_imresize

# Zhang et al., ECCV 2018 (RCAN), Table 3 (BI degradation), bicubic x8: PSNR / SSIM, Y channel.
RCAN_BICUBIC_X8 = {"set5": (24.40, 0.6580), "set14": (23.10, 0.5660), "b100": (23.67, 0.5480),
                   "urban100": (20.74, 0.5160)}


@pytest.mark.parametrize("factor", [1 / 8, 8])
def test_imresize_x8_matches_the_independent_reference(factor: float) -> None:
    """Shrinking by 8 stretches the kernel to 32 taps (antialiasing); enlarging by 8 uses 4 taps."""
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, (48, 40, 3) if factor < 1 else (5, 7, 3), dtype=np.uint8)
    fast = imresize(img, factor)
    np.testing.assert_array_equal(fast, reference_imresize(img, factor))
    assert fast.shape == ((6, 5, 3) if factor < 1 else (40, 56, 3))


def test_bicubic_lr_x8_modcrops_to_a_multiple_of_8() -> None:
    hr = np.zeros((228, 345, 3), np.uint8)
    assert modcrop(hr, 8).shape == (224, 344, 3)
    assert bicubic_lr(hr, 8).shape == (28, 43, 3)


@pytest.fixture(scope="module")
def x8_run(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from srbench.evaluate import RunConfig, evaluate

    out = tmp_path_factory.mktemp("x8") / "bicubic-x8"
    cfg = RunConfig(models=("bicubic",), datasets=("set5", "set14"), scales=(8,), metrics=("psnr", "ssim"),
                    data_dir=str(shared_datasets), throughput=False, grayscale="raw")  # as the bicubic tables
    outcome = evaluate(cfg, out, progress=False, log=lambda msg: None)
    assert outcome.ok, outcome.errors
    return out


@pytest.mark.shared
def test_bicubic_x8_matches_the_published_figures(x8_run: Path) -> None:
    """Within 0.02 dB PSNR and 0.003 SSIM of RCAN's bicubic x8 (measured: Set5 24.397 / 0.6581,
    Set14 23.089 / 0.5639; the SSIM slack is the x8 spread of MATLAB pipelines' rounding details)."""
    from srbench.rundir import load_results

    s = load_results(x8_run, summary=True).set_index(["dataset", "metric"])["value"]
    for ds in ("set5", "set14"):
        psnr, ssim = RCAN_BICUBIC_X8[ds]
        assert s[ds, "psnr"] == pytest.approx(psnr, abs=0.02), ds
        assert s[ds, "ssim"] == pytest.approx(ssim, abs=0.003), ds


@pytest.mark.shared
def test_protocol_at_x8_crops_8_pixels(x8_run: Path, shared_datasets: Path) -> None:
    """run.json records crop = scale; one image recomputed by hand with an 8-pixel crop (skimage PSNR)."""
    from skimage.metrics import peak_signal_noise_ratio

    from srbench.data.io import read_image
    from srbench.rundir import load_results

    run = json.loads((x8_run / "run.json").read_text())
    assert run["protocol"]["crop_border"] == "scale" and run["config"]["scales"] == [8]
    hr = modcrop(read_image(shared_datasets / "Set5" / "HR" / "baby.png"), 8)
    sr = imresize(bicubic_lr(hr, 8), 8)

    def y(img: np.ndarray) -> np.ndarray:
        rgb = img.astype(np.float64) / 255
        return 16 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]

    want = peak_signal_noise_ratio(y(hr)[8:-8, 8:-8], y(sr)[8:-8, 8:-8], data_range=255)
    wrong_crop = peak_signal_noise_ratio(y(hr)[4:-4, 4:-4], y(sr)[4:-4, 4:-4], data_range=255)
    rows = load_results(x8_run).query("dataset == 'set5' and image == 'baby' and metric == 'psnr'")
    assert rows["value"].item() == pytest.approx(want, abs=1e-9)
    assert abs(want - wrong_crop) > 1e-3  # the crop matters at this precision


def test_published_csv_has_the_rcan_bicubic_x8_figures() -> None:
    from srbench.report.tables import load_published

    pub = load_published()
    x8 = pub[pub["scale"] == 8].set_index(["dataset", "metric"])
    assert set(x8["source"]) == {"RCAN T3"} and set(x8["model"]) == {"bicubic"}
    assert x8["reference"].str.contains("Zhang et al., ECCV 2018").all()
    for ds, (psnr, ssim) in RCAN_BICUBIC_X8.items():
        assert x8.loc[(ds, "psnr"), "value"] == psnr and x8.loc[(ds, "ssim"), "value"] == ssim


@pytest.mark.shared
def test_table_renders_x8_beside_the_published_column(x8_run: Path) -> None:
    from srbench.report.tables import render_table

    md = render_table([x8_run], published=True, scale=8)
    lines = md.splitlines()
    assert lines[0] == "| Dataset | Metric | bicubic | bicubic (RCAN T3) |"
    assert lines[2] == "| Set5 \u00d78 | PSNR \u2191 | 24.40 | 24.40 |"
    assert lines[4] == "| Set14 \u00d78 | PSNR \u2191 | 23.09 | 23.10 |"


@pytest.mark.shared
def test_check_accepts_x8(x8_run: Path, tmp_path: Path) -> None:
    """Blessing an x8 run and checking it passes; an x8 row made worse is a regression (labelled x8)."""
    import csv
    import shutil

    from srbench.check import PASS, REGRESSION, check, save_baseline

    baseline = save_baseline(x8_run, tmp_path / "x8.json")
    assert check(x8_run, baseline).status == PASS
    worse = tmp_path / "worse"
    shutil.copytree(x8_run, worse)
    for name in ("results.csv", "summary.csv"):
        rows = list(csv.DictReader(open(worse / name, encoding="utf-8")))
        for r in rows:
            if r["metric"] == "psnr" and r["dataset"] == "set5":
                r["value"] = repr(float(r["value"]) - 0.5)
        with open(worse / name, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    res = check(worse, baseline)
    assert res.status == REGRESSION, res.to_text()
    bad = [r for r in res.rows if r.status == "regression"]
    assert [(r.dataset, r.scale, r.metric) for r in bad] == [("set5", 8, "psnr")]
    assert "srbench.set5.x8.bicubic" in res.to_junit_xml()
