"""The report's curated sections: throughput table, provenance for people, warnings once, the per-image
pivot and the visual comparisons chosen by spread (the browser test checks the page as a whole)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srbench.registry import BUILTIN
from srbench.report import crops
from srbench.report.html import ReportOptions, _pivots, render_report, write_report
from srbench.report.provenance import BUILTIN_ARCHITECTURES, architecture, human, warning_groups
from srbench.report.throughput import COLUMNS, MAX_VISIBLE_COLUMNS, number, percent, throughput_section
from srbench.rundir import ModelRecord, load_run_dir
from tests.report.fakerun import _psnr, _ssim, _y, write_run
from tests.report.test_html import parse

TP_BASE = {"scale": 4, "batch": 1, "dtype": "fp32", "device": "cpu", "ms_p90": 2.0, "mpix_per_s": 1.0,
           "achieved_gflops_per_s": "", "peak_gflops_per_s": 32.9, "device_name": "CPU: Test", "n_timed": 5}


def _tp_rows() -> list[dict]:
    return [
        {**TP_BASE, "model": "bicubic", "lr_height": 32, "lr_width": 32, "input": "32x32", "ms_median": 0.356,
         "images_per_s": 2812.4, "params": "", "gflops": "", "peak_fraction": "", "bound": "memory",
         "bound_fraction": 0.0919},
        {**TP_BASE, "model": "srresnet", "lr_height": 32, "lr_width": 32, "input": "32x32", "ms_median": 971.6,
         "images_per_s": 1.029, "params": "1545238.0", "gflops": 290.740764672, "peak_fraction": 0.142,
         "bound": "compute", "bound_fraction": 0.142},
        {**TP_BASE, "model": "srresnet", "lr_height": 72, "lr_width": 70, "input": "set5", "ms_median": 503.9,
         "images_per_s": 1.93, "params": "1545238.0", "gflops": 290.740764672, "peak_fraction": 0.149,
         "bound": "compute", "bound_fraction": 0.149},
    ]


MODELS_META = {"bicubic": {"params": 0, "extra": {"method": "matlab-imresize-bicubic"}},
               "srresnet": {"params": 1549462, "demo": True, "extra": {"bn_folded": True, "tile": None}}}


@pytest.fixture
def tp_run(tmp_path: Path) -> Path:
    rows = [(m, "set5", 4, im, "psnr", v) for m, im, v in
            (("bicubic", "a", 28.0), ("bicubic", "b", 30.0), ("srresnet", "a", 29.5), ("srresnet", "b", 29.0))]
    return write_run(tmp_path / "run", rows, meta={"models": MODELS_META}, throughput=_tp_rows())


def test_number_and_percent() -> None:
    assert [number(v) for v in (None, 0.0, 0.356, 23.99, 971.6, 1104.1, 2812.4)] == \
        ["\u2014", "0", "0.356", "24", "972", "1,104", "2,812"]
    assert [percent(v) for v in (None, 0.142, 0.0919, 0.0004)] == ["\u2014", "14 %", "9.2 %", "< 0.1 %"]


def test_curated_throughput_table(tp_run: Path) -> None:
    assert len(COLUMNS) <= MAX_VISIBLE_COLUMNS
    run = load_run_dir(tp_run)
    section = throughput_section(run.throughput, run.record.models, run.record.environment)
    assert section is not None and len(section["columns"]) <= MAX_VISIBLE_COLUMNS
    table = [[c["text"] for c in r["cells"]] for r in section["rows"]]
    assert table[0] == ["bicubic", "32x32", "fp32", "0.356", "2", "2,812", "\u2014", "\u2014", "memory, 9.2 %",
                        "\u2014"]
    # GFLOP at the timed size: the 256x256 count scaled by the LR area (32x32: /64; set5's median 72x70)
    assert table[1] == ["srresnet", "32x32", "fp32", "972", "2", "1.03", "4.54", "14 %", "compute, 14 %",
                        "1,545,238 *"]
    assert table[2][1] == "set5" and table[2][6] == number(290.740764672 * 72 * 70 / 256**2)
    assert section["footnotes"] == [
        "* srresnet: params counted after batch-norm folding (BN layers merged into the convolutions before "
        "timing): 1,545,238; the Models table counts the trained network: 1,549,462."]
    assert len(section["raw"]["columns"]) == len(pd.read_csv(tp_run / "throughput.csv").columns)
    raw_params = section["raw"]["columns"].index(next(c for c in section["raw"]["columns"] if c["name"] == "params"))
    assert section["raw"]["rows"][1][raw_params]["text"] == "1545238"  # an integer, not 1545238.000


def test_throughput_in_the_page_and_models_params(tp_run: Path) -> None:
    html = write_report(tp_run).read_text(encoding="utf-8")
    p = parse(tp_run / "report.html")
    curated = next(t for t in p.tables if t["id"] == "throughput-table")
    assert len(curated["rows"][0]) <= MAX_VISIBLE_COLUMNS
    assert 'id="throughput-raw-fold"' in html and "All columns of throughput.csv" in html
    models = next(t for t in p.tables if t["id"] == "models-table")
    body = {r[0][0].split()[0]: [c[0] for c in r] for r in models["rows"][1:]}
    assert body["srresnet"][1] == "SRResNet (Ledig et al. 2017)" and body["srresnet"][4] == "1,549,462"
    assert body["bicubic"][1] == BUILTIN_ARCHITECTURES["bicubic"]


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_builtin_has_an_architecture(name: str) -> None:
    assert architecture(name, ModelRecord()) == BUILTIN_ARCHITECTURES[name]


def test_architecture_from_the_adapter_record() -> None:
    assert architecture("file:x.pth", ModelRecord(extra={"extra": {"architecture": "ESRGAN"}})) == "ESRGAN"
    keras = ModelRecord(extra={"extra": {"framework": "tensorflow 2.21, keras 3", "format": "SavedModel"}})
    assert architecture("keras:m", keras) == "Keras model (SavedModel)"
    assert architecture("plugin-x", ModelRecord()) == "\u2014"


def test_human_values() -> None:
    assert human(True) == "yes" and human(False) == "no" and human(None) == "\u2014"
    assert human(["psnr", "ssim"]) == "psnr, ssim" and human([]) == "none" and human({}) == "none"
    assert human([64, 128], "throughput_sizes") == "64, 128 px (square LR)"
    assert human(40_000_000, "max_pixels") == "40,000,000 pixels"
    assert human({"unit": "dB", "higher_is_better": True, "sub": {"a": [1, 2]}}) == \
        [("unit", "dB"), ("higher_is_better", "yes"), ("sub", "a: 1, 2")]


def test_provenance_is_for_people(tp_run: Path) -> None:
    html = write_report(tp_run).read_text(encoding="utf-8")
    p = parse(tp_run / "report.html")
    kv = {r[0][0]: r[1][0] for t in p.tables if "kv" in t["class"] for r in t["rows"] if len(r) == 2}
    assert kv["models"] == "bicubic, srresnet" and kv["scales"] == "4" and kv["crop box"] == "\u2014"
    assert "True" not in kv.values() and not any(v.startswith("[") for v in kv.values())
    metrics = next(t for t in p.tables if t["id"] == "metrics-table")
    assert [c[0] for c in metrics["rows"][1]][:3] == ["psnr", "\u2191 higher is better", "dB"]
    assert "unit ," not in html


def test_each_warning_once() -> None:
    w = ["LPIPS unavailable: no weights", "LPIPS unavailable: no weights",
         "bicubic on set5/baby x4: niqe has no value for this image", "srgan on set5/baby x4: niqe has no value "
         "for this image", "srgan on set5/bird x4: psnr is inf"]
    assert warning_groups(w) == [
        {"text": "LPIPS unavailable: no weights", "where": []},
        {"text": "niqe has no value for this image", "where": ["bicubic on set5/baby x4", "srgan on set5/baby x4"]},
        {"text": "srgan on set5/bird x4: psnr is inf", "where": []}]


# ------------------------------------------------------------------------------------------------- pivot

def _pivot_run(tmp_path: Path, models=("srgan", "bicubic", "srresnet")) -> Path:
    values = {"bicubic": {"a": 30.0, "b": 25.0, "c": 28.0}, "srresnet": {"a": 31.0, "b": 26.5, "c": 27.0},
              "srgan": {"a": 29.0, "b": 25.5, "c": 28.5}}
    niqe = {"bicubic": {"a": 7.0, "b": 7.0, "c": 7.0}, "srresnet": {"a": 6.0, "b": 8.0, "c": 7.0},
            "srgan": {"a": 3.0, "b": 3.0, "c": 3.0}}
    rows = [(m, "set5", 4, im, "psnr", values[m][im]) for m in models for im in "abc"]
    rows += [(m, "set5", 4, im, "niqe", niqe[m][im]) for m in models for im in "abc"]
    return write_run(tmp_path / "run", rows)


def test_pivot_deltas_to_bicubic_worst_first(tmp_path: Path) -> None:
    run = load_run_dir(_pivot_run(tmp_path))
    (group,) = _pivots(run, None, [])
    assert group["reference"] == "bicubic" and group["models"] == ["srgan", "srresnet"]
    psnr, niqe = group["tables"]
    # worst first: the image on which some model loses most to bicubic (a: srgan -1.0, c: srresnet -1.0 ...)
    assert [r["image"] for r in psnr["rows"]] == ["a", "c", "b"]
    a = psnr["rows"][0]
    assert a["ref"] == "30.000" and [c["text"] for c in a["cells"]] == ["-1.000", "+1.000"]
    assert [c["cls"] for c in a["cells"]] == ["worse", "better"]
    assert psnr["means"] == ["+0.000", "+0.500"] and psnr["ref_mean"] == "27.667"
    # each mean difference with its 95 % paired bootstrap interval (as summary.csv and `table --ci`), and
    # "not significant" where it contains 0: srgan's (-1.0, +0.5, +0.5) does, srresnet's (+1, +1.5, -1) too
    from srbench.metrics.significance import paired_bootstrap

    _, lo, hi = paired_bootstrap(np.array([-1.0, 0.5, 0.5]), np.zeros(3))
    assert psnr["intervals"][0]["text"] == f"[{lo:+.3f}, {hi:+.3f}] not significant"
    assert all(i["cls"] == "ns" for i in psnr["intervals"])
    assert niqe["intervals"][0]["text"].endswith("]") and niqe["intervals"][0]["cls"] == ""  # srgan: -4 each
    # NIQE is lower-is-better: srresnet's +1.0 on b is the worst, and coloured worse
    assert niqe["rows"][0]["image"] == "b" and niqe["rows"][0]["cells"][1]["cls"] == "worse"
    assert niqe["rows"][0]["cells"][0]["cls"] == "better"


def test_pivot_reference_option_and_fallback(tmp_path: Path) -> None:
    run = load_run_dir(_pivot_run(tmp_path))
    assert _pivots(run, "srresnet", [])[0]["reference"] == "srresnet"
    notes: list[str] = []
    assert _pivots(run, "nope", notes)[0]["reference"] == "bicubic" and "'nope' is not in this run" in notes[0]
    tmp2 = tmp_path / "nobicubic"
    run2 = load_run_dir(_pivot_run(tmp2, models=("srgan", "srresnet")))
    assert _pivots(run2, None, [])[0]["reference"] == "srgan"  # the run's first model
    html = render_report(run, ReportOptions(reference="srresnet"))
    assert "reference srresnet" in html and "\u0394 bicubic" in html


# ------------------------------------------------------------------------------------ visual comparisons

def test_spread_box_finds_where_models_differ() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)  # texture everywhere: HR energy is no guide
    b = a.copy()
    b[64:96, 100:132] = 255 - b[64:96, 100:132]  # the models disagree only here
    x, y, w, h = crops.spread_box([a, b], size=32, stride=4)
    assert (w, h) == (32, 32) and abs(x - 100) <= 4 and abs(y - 64) <= 4
    assert crops.spread_map([a, a]).max() == 0
    with pytest.raises(ValueError, match="at least two"):
        crops.spread_map([a])


def test_comparisons_ordered_by_spread_with_crop_numbers(image_run: Path, tmp_path: Path) -> None:
    from srbench.data.io import read_image

    run = load_run_dir(image_run)
    r = run.results[run.results["metric"] == "psnr"]
    spread = r.groupby("image")["value"].agg(lambda v: v.max() - v.min())
    saved = [c.image for c in run.record.comparisons]
    expected = sorted(saved, key=lambda im: -spread[im])
    html = write_report(image_run, out=tmp_path / "r.html").read_text(encoding="utf-8")
    labels = [html.index(f"<h3>Set5 \u00d74 \u00b7 {im}</h3>") for im in expected]
    assert labels == sorted(labels)
    assert html.count("(auto (largest difference between the models))") == len(saved)
    # the caption of a crop is that crop's own PSNR/SSIM (Y), checked against an independent computation
    first = next(c for c in run.record.comparisons if c.image == expected[0])
    box = html.split(f"<h3>Set5 \u00d74 \u00b7 {expected[0]}</h3>", 1)[1].split("region x,y,w,h = ", 1)[1]
    x, y, w, h = (int(v) for v in box.split(" ", 1)[0].split(","))
    hr = read_image(image_run / first.hr)[y : y + h, x : x + w]
    sr = read_image(image_run / first.models["bicubic"])[y : y + h, x : x + w]
    ys, yh = _y(sr), _y(hr)
    want = f"crop {_psnr(ys, yh):.3f} / {_ssim(ys, yh):.4f}"
    section = html.split(f"<h3>Set5 \u00d74 \u00b7 {expected[0]}</h3>", 1)[1].split("</section>", 1)[0]
    assert want in section
    whole = r[(r["image"] == expected[0]) & (r["model"] == "bicubic")]["value"].iloc[0]
    assert f"image {whole:.3f}" in section
    assert math.isfinite(whole)


def test_the_report_says_where_the_time_went() -> None:
    from srbench.report.provenance import time_rows

    spent = {"wall_s": 6.4, "models_s": {"srresnet": 5.9}, "workers": 0,
             "harness_s": {"read_and_lr": 0.12, "metrics": 0.09, "writes": 0.17, "sanity": 0.12}}
    rows = dict(time_rows(spent, {"seconds": 22.04}))
    assert rows["quality pass"] == "6.4 s" and rows["timed pass"] == "22.0 s" and rows["helper threads"] == "0"
    assert rows["models' own time"] == "5.90 s (92 % of it): srresnet 5.90 s"
    assert rows["harness time"] == "0.50 s: read and lr 0.12 s, metrics 0.09 s, writes 0.17 s, sanity 0.12 s"
    assert time_rows(None, None) == [] and time_rows({"wall_s": "x"}, {"seconds": None}) == []  # older runs
