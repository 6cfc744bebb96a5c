"""Acceptance: the report works in headless Chromium (Debian's `chromium`, driven by playwright).

No console errors (a wrong CSP script hash or a JS error would show here), tables and images present and
decoded, clicking a header sorts, hostile names stay text, a screenshot is taken. Skips, saying why, when
chromium or the playwright package is absent (`.ci/run` installs both). SRBENCH_UPDATE_SCREENSHOT=1 also
writes docs/report.png for the README.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from srbench.report.html import write_report
from tests.report.fakerun import write_run
from tests.report.helpers import XSS

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")

CHROMIUM = os.environ.get("SRBENCH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not found (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        # launch() gives every browser a fresh temporary profile (user data dir); headless by default.
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def open_page(browser, html: Path, width: int = 1280, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    log: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: log.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: log.append(f"pageerror: {e}"))

    def on_dialog(d) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.goto(html.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, log, dialogs


def column(page, table_id: str, index: int) -> list[str]:
    return page.eval_on_selector_all(f"#{table_id} tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent)")


def as_float(text: str) -> float:
    return math.inf if text == "inf" else float(text)


def test_report_in_chromium(browser, image_run: Path, tmp_path: Path) -> None:
    report = write_report(image_run)
    page, log, dialogs = open_page(browser, report)
    assert page.get_attribute("html", "data-srbench-ready") == "1"  # our script ran (CSP hash matches)
    assert page.locator("table.summary-table").count() == 1
    assert page.locator("#per-image-table tbody tr").count() == 9
    assert page.locator("#throughput-table tbody tr").count() == 3
    page.click("#per-image-fold > summary")  # the long per-image table is behind a fold, under the pivot
    n_img = page.locator("img").count()
    assert n_img == 12  # 2 plots + 2 comparisons x (thumbnail + HR + 3 models)
    decoded = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
    assert decoded == [True] * n_img

    # sorting: PSNR column (index 4) ascending, then descending; text column (model) too
    header = page.locator("#per-image-table thead th").nth(4)
    header.click()
    values = [as_float(v) for v in column(page, "per-image-table", 4)]
    assert values == sorted(values) and values != [as_float(v) for v in column(page, "per-image-table", 4)][::-1]
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert [as_float(v) for v in column(page, "per-image-table", 4)] == sorted(values, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    page.locator("#per-image-table thead th").nth(3).click()
    models = column(page, "per-image-table", 3)
    assert models == sorted(models, key=str.lower)

    # the filter box hides rows that do not match
    page.fill("input.filter", "nearest")
    assert page.locator("#per-image-table tbody tr:not([hidden])").count() == 3

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert log == [] and dialogs == []
    page.close()


@pytest.mark.shared
def test_real_run_report_in_chromium(browser, real_run: Path) -> None:
    """The report of a real `srbench run` (bicubic, Set5 and Set14 x4) works in the browser."""
    page, log, dialogs = open_page(browser, write_report(real_run))
    assert page.get_attribute("html", "data-srbench-ready") == "1"
    assert page.locator("table.summary-table").count() == 2  # Set5 x4, Set14 x4
    assert page.locator("#per-image-table tbody tr").count() == 5 + 14
    page.click("#per-image-fold > summary")
    datasets = column(page, "per-image-table", 0)
    assert datasets == ["set5"] * 5 + ["set14"] * 14  # the run's dataset order, not alphabetical
    decoded = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
    assert decoded == [True] * 12  # 4 comparisons x (thumbnail, HR, bicubic); no plot without LPIPS/throughput
    page.locator("#per-image-table thead th").nth(4).click()
    values = [float(v) for v in column(page, "per-image-table", 4)]
    assert values == sorted(values)
    assert log == [] and dialogs == []
    page.close()


def test_hostile_names_are_text(browser, image_run: Path, tmp_path: Path) -> None:
    hostile = '"><img src=x onerror=alert(2)>'
    rows = [(XSS, hostile, 4, hostile, "psnr", 28.0), ("ok", hostile, 4, hostile, "psnr", 27.0)]
    run = write_run(tmp_path / "run", rows, meta={"warnings": [XSS], "command": XSS})
    page, log, dialogs = open_page(browser, write_report(run))
    assert page.locator("script").count() == 1
    assert page.eval_on_selector_all("img", "imgs => imgs.length") == 0
    cells = column(page, "per-image-table", 3)
    assert XSS in cells
    assert hostile in column(page, "per-image-table", 0)
    assert XSS in page.inner_text("#warnings")
    assert dialogs == [] and log == []
    page.close()


VIEWPORT = 1366  # the acceptance width: a laptop screen


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def visible_columns(page, table_id: str) -> int:
    return page.evaluate(f"""() => Array.from(document.querySelectorAll('#{table_id} thead th'))
        .filter(th => th.offsetParent !== null && th.getBoundingClientRect().width > 0).length""")


def test_library_run_report_at_1366(browser, library_run: Path, tmp_path: Path) -> None:
    """Acceptance (issue 21 item 2) on a run made through the library: bicubic + srresnet, NIQE without
    LPIPS, real throughput.csv. No horizontal scroll at 1366 px (raw throughput columns folded open or not),
    the throughput table has <= 10 visible columns, the pivot sorts on click, the NIQE plane renders."""
    report = write_report(library_run, out=tmp_path / "report.html")
    page, log, dialogs = open_page(browser, report, width=VIEWPORT, height=900)
    assert page.get_attribute("html", "data-srbench-ready") == "1"
    assert no_horizontal_scroll(page)
    assert 0 < visible_columns(page, "throughput-table") <= 10
    inputs = column(page, "throughput-table", 1)
    assert "mini" in inputs and "32x32" in inputs  # the dataset's real LR images by name, the fixed size
    assert any(t.endswith(" *") for t in column(page, "throughput-table", 9))  # BN-folded params, explained
    assert "params counted after batch-norm folding" in page.inner_text("main")
    assert "the Models table counts the trained network: 1,549,462" in page.inner_text("main")

    # the NIQE fallback plane: an SVG image that decoded, captioned with NIQE
    plane = page.locator("figure", has_text="Perception-distortion plane")
    assert plane.count() == 1 and "NIQE" in plane.inner_text()
    assert plane.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")

    # the pivot: worst first by default (bicubic reference: srresnet's smallest gain first), sorts on click
    deltas = [float(v) for v in column(page, "pivot-0-0", 2)]
    assert deltas == sorted(deltas)
    header = page.locator("#pivot-0-0 thead th").nth(2)
    header.click()
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert [float(v) for v in column(page, "pivot-0-0", 2)] == sorted(deltas, reverse=True)
    page.locator("#pivot-0-0 thead th").nth(0).click()
    images = column(page, "pivot-0-0", 0)
    assert images == sorted(images)

    # every comparison crop decoded; crop captions are the crop's own numbers
    decoded = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
    assert decoded and all(decoded)
    assert page.locator(".panel .cap", has_text="crop ").count() == 2 * 3  # 3 images x 2 models

    shots = [tmp_path / "report-1366.png", tmp_path / "report-1366-folds-open.png"]
    page.screenshot(path=str(shots[0]), full_page=True)
    for fold in ("#throughput-raw-fold", "#per-image-fold"):
        page.click(f"{fold} > summary")
    page.eval_on_selector_all("details", "ds => ds.forEach(d => d.open = true)")
    assert no_horizontal_scroll(page)  # the 34 raw columns scroll inside their box, not the page
    assert visible_columns(page, "throughput-table") <= 10
    page.screenshot(path=str(shots[1]), full_page=True)
    for shot in shots:
        assert shot.stat().st_size > 20_000
        print(f"screenshot: {shot}")
    assert log == [] and dialogs == []
    page.close()
