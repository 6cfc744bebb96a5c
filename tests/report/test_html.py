"""report.html: content, escaping, self-containment (the browser test checks behaviour)."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from srbench.report.html import write_report
from tests.report.fakerun import write_run
from tests.report.helpers import XSS


class Tables(HTMLParser):
    """Collects every table: {"id", "class", "rows": [[(text, bold), ...]]}; also <img> and <script> tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.imgs: list[dict] = []
        self.scripts = 0
        self._stack: list[dict] = []
        self._cell: list | None = None
        self._strong = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table":
            t = {"id": a.get("id"), "class": a.get("class") or "", "rows": []}
            self.tables.append(t)
            self._stack.append(t)
        elif tag == "tr" and self._stack:
            self._stack[-1]["rows"].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = ["", False]
        elif tag == "strong":
            self._strong += 1
        elif tag == "img":
            self.imgs.append(a)
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._stack:
            self._stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1]["rows"][-1].append((self._cell[0].strip(), self._cell[1]))
            self._cell = None
        elif tag == "strong":
            self._strong -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[0] += data
            if self._strong and data.strip():
                self._cell[1] = True


def parse(path: Path) -> Tables:
    p = Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_report_sections_and_escaping(image_run: Path) -> None:
    out = write_report(image_run)
    assert out == image_run / "report.html"
    html = out.read_text(encoding="utf-8")
    # the hostile model name is text everywhere, never markup
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    p = parse(out)
    assert p.scripts == 1  # only the report's own script
    # self-contained: no external resources at all
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", html)
    assert "<link" not in html and "@import" not in html
    assert all(img["src"].startswith(("data:image/png;base64,", "data:image/svg+xml;base64,")) for img in p.imgs)
    ids = {t["id"] for t in p.tables}
    assert {"per-image-table", "throughput-table", "models-table", "datasets-table"} <= ids
    per_image = next(t for t in p.tables if t["id"] == "per-image-table")
    assert len(per_image["rows"]) == 1 + 3 * 3  # header + 3 images x 3 models
    assert [c[0] for c in per_image["rows"][0]][:4] == ["dataset", "scale", "image", "model"]
    assert XSS in {r[3][0] for r in per_image["rows"][1:]}  # parsed text equals the raw name
    # 2 plots (perception-distortion, quality-throughput) + 2 comparisons x (thumbnail + HR + 3 models)
    assert sum(img["src"].startswith("data:image/svg") for img in p.imgs) == 2
    assert sum(img["src"].startswith("data:image/png") for img in p.imgs) == 2 * 5
    assert "CPU: Test CPU @ 2.0GHz" in html  # hardware named


def _summary_run(tmp_path: Path, **meta) -> Path:
    # A has the best PSNR, B the best (lowest) LPIPS: bold must follow each metric's direction.
    rows = [("A", "set5", 4, "im", "psnr", 30.0), ("A", "set5", 4, "im", "lpips", 0.30),
            ("B", "set5", 4, "im", "psnr", 28.0), ("B", "set5", 4, "im", "lpips", 0.10),
            ("C", "set5", 4, "im", "psnr", 29.0), ("C", "set5", 4, "im", "lpips", 0.20)]
    return write_run(tmp_path / "run", rows, meta=meta or None)


def test_summary_bold_and_arrows_follow_metric_metadata(tmp_path: Path) -> None:
    p = parse(write_report(_summary_run(tmp_path)))
    table = next(t for t in p.tables if "summary-table" in t["class"])
    head = [c[0] for c in table["rows"][0]]
    assert head[1].startswith("PSNR") and head[1].endswith("\u2191")
    assert head[2].startswith("LPIPS") and head[2].endswith("\u2193")
    body = {r[0][0]: r[1:] for r in table["rows"][1:]}
    assert body["A"][0] == ("30.000", True) and body["B"][0] == ("28.000", False)
    assert body["B"][1] == ("0.1000", True) and body["A"][1] == ("0.3000", False)


def test_summary_direction_flips_with_run_json(tmp_path: Path) -> None:
    run = _summary_run(tmp_path, metrics={"lpips": {"higher_is_better": True}})
    table = next(t for t in parse(write_report(run)).tables if "summary-table" in t["class"])
    body = {r[0][0]: r[1:] for r in table["rows"][1:]}
    assert body["A"][1] == ("0.3000", True) and body["B"][1] == ("0.1000", False)


def test_lpips_unavailable_warning_and_no_plane(tmp_path: Path) -> None:
    reason = "LPIPS unavailable: AlexNet weights not found in $TORCH_HOME/hub/checkpoints"
    rows = [("bicubic", "set5", 4, "im", "psnr", 28.0), ("bicubic", "set5", 4, "im", "ssim", 0.8)]
    run = write_run(tmp_path / "run", rows, meta={
        "warnings": [reason],
        "protocol": {"lpips": {"available": False, "reason": reason}},
        "errors": [{"model": "srgan", "dataset": "set5", "scale": 4, "image": "im", "error": "CUDA <oom>"}],
        "status": "interrupted"})
    html = write_report(run).read_text(encoding="utf-8")
    assert html.count(reason) == 1  # once, in the warnings box; the plot note and provenance point there
    assert "Perception-distortion plane skipped: LPIPS is unavailable (see Warnings)" in html
    assert "<th>lpips</th><td>unavailable (see Warnings)</td>" in html
    assert "data:image/svg" not in html  # no LPIPS, no throughput: no plot
    assert "CUDA &lt;oom&gt;" in html and 'id="status-warning"' in html


def test_crop_box_option_and_fallback(image_run: Path, tmp_path: Path) -> None:
    html = write_report(image_run, out=tmp_path / "a.html", crop_box="8,8,32,32").read_text(encoding="utf-8")
    assert html.count("region x,y,w,h = 8,8,32,32 HR pixels (chosen (crop_box))") == 2
    html = write_report(image_run, out=tmp_path / "b.html", crop_box="9000,0,32,32").read_text(encoding="utf-8")
    assert "lies outside" in html and "auto (largest difference between the models)" in html
    with pytest.raises(ValueError, match="crop box"):
        write_report(image_run, out=tmp_path / "c.html", crop_box="1,2")


def test_paths_outside_the_run_are_never_embedded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    import numpy as np

    from srbench.data.io import write_image

    write_image(secret, np.zeros((8, 8, 3), np.uint8))
    rows = [("m", "set5", 4, "im", "psnr", 28.0)]
    run = write_run(tmp_path / "run", rows, meta={"comparisons": [
        {"dataset": "set5", "scale": 4, "image": "im", "hr": "../secret.png", "models": {"m": "../secret.png"}}]})
    html = write_report(run).read_text(encoding="utf-8")
    assert "not found in the run directory" in html and "data:image/png" not in html


def test_inf_psnr_is_shown_and_sorts_last_as_infinity(tmp_path: Path) -> None:
    rows = [("id", "set5", 4, "a", "psnr", math.inf), ("id", "set5", 4, "b", "psnr", 40.0)]
    html = write_report(write_run(tmp_path / "run", rows)).read_text(encoding="utf-8")
    assert 'data-sort="Infinity">inf<' in html


def test_crop_box_from_run_json_list(image_run: Path, tmp_path: Path) -> None:
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    meta = json.loads((run / "run.json").read_text())
    meta["config"]["crop_box"] = [4, 6, 40, 40]  # how `srbench run --crop-box 4,6,40,40` records it
    (run / "run.json").write_text(json.dumps(meta))
    assert write_report(run).read_text(encoding="utf-8").count("= 4,6,40,40 HR pixels (chosen (crop_box))") == 2


def test_throughput_table_and_point_selection(tmp_path: Path) -> None:
    rows = [("m", "set5", 4, "im", "psnr", 30.0)]
    base = {"model": "m", "scale": 4, "dtype": "fp32", "device": "cuda", "ms_p90": 2.0, "mpix_per_s": 1.0,
            "params": "", "gflops": "", "achieved_gflops_per_s": "", "peak_gflops_per_s": "", "peak_fraction": "",
            "channels_last": "False", "device_name": "NVIDIA H100 80GB HBM3"}
    tp = [{**base, "lr_height": 64, "lr_width": 64, "batch": 1, "ms_median": 1.0, "images_per_s": 1000.0,
           "input": "64x64"},
          {**base, "lr_height": 256, "lr_width": 256, "batch": 1, "ms_median": 8.0, "images_per_s": 125.0,
           "input": "256x256"},
          {**base, "lr_height": 256, "lr_width": 256, "batch": 8, "ms_median": 5.0, "images_per_s": 200.0,
           "input": "256x256"}]
    html = write_report(write_run(tmp_path / "run", rows, throughput=tp)).read_text(encoding="utf-8")
    assert 'id="hardware">NVIDIA H100 80GB HBM3' in html
    assert "Throughput measured at input 256x256, batch 1, dtype fp32, device cuda." in html
    p = parse(tmp_path / "run" / "report.html")
    table = next(t for t in p.tables if t["id"] == "throughput-raw")  # every column, behind the fold
    head = [c[0] for c in table["rows"][0]]
    first = dict(zip(head, (c[0] for c in table["rows"][1]), strict=True))
    assert first["ms_median"] == "1.000" and first["gflops"] == "" and first["channels_last"] == "False"
    curated = next(t for t in p.tables if t["id"] == "throughput-table")
    assert [c[0] for c in curated["rows"][0]] == ["model", "input", "dtype", "ms median", "ms p90", "img/s", "GFLOP",
                                                  "of peak", "bound", "params"]
    assert [c[0] for c in curated["rows"][3]][:3] == ["m", "256x256 \u00b7 batch 8", "fp32"]


def test_throughput_of_a_busy_machine_shows_no_of_peak_figure(tmp_path: Path) -> None:
    """Issue 22.4: a row whose ceiling check found the machine busy shows why, not a fraction."""
    rows = [("m", "set5", 4, "im", "psnr", 30.0)]
    base = {"model": "m", "scale": 4, "dtype": "fp32", "device": "cpu", "ms_p90": 2.0, "mpix_per_s": 1.0,
            "params": 10, "gflops": 1.0, "achieved_gflops_per_s": 40.0, "peak_gflops_per_s": 230.0,
            "lr_height": 64, "lr_width": 64, "batch": 1, "ms_median": 1.0, "images_per_s": 1000.0, "input": "64x64"}
    tp = [{**base, "peak_fraction": 0.174, "bound_fraction": 0.174, "peak_reliable": "True", "note": ""},
          {**base, "model": "n", "peak_fraction": 0.816, "bound_fraction": 0.816, "peak_reliable": "False",
           "note": "machine busy: ceiling 49 vs 230 GFLOP/s earlier: of peak unreliable"}]
    write_report(write_run(tmp_path / "run", rows, throughput=tp))
    tables = parse(tmp_path / "run" / "report.html").tables
    raw = next(t for t in tables if t["id"] == "throughput-raw")  # every column of throughput.csv
    head = [c[0] for c in raw["rows"][0]]
    quiet, busy = (dict(zip(head, (c[0] for c in r), strict=True)) for r in raw["rows"][1:3])
    assert busy["peak_reliable"] == "False" and "ceiling 49 vs 230" in busy["note"]
    curated = next(t for t in tables if t["id"] == "throughput-table")
    head = [c[0] for c in curated["rows"][0]]
    quiet, busy = (dict(zip(head, (c[0] for c in r), strict=True)) for r in curated["rows"][1:3])
    assert quiet["of peak"] == "17 %" and busy["of peak"].startswith("unreliable")
