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
