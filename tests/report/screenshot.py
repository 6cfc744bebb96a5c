"""Make docs/report.png, the README's picture of a report: ``python -m tests.report.screenshot [RUN_DIR]``.

With RUN_DIR (a real `srbench run` output) its report is rendered; without, a small demo run is computed
from Set5 ($SRBENCH_SHARED_DATASETS) or synthetic images, with bicubic, nearest and a blurred bicubic.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from srbench.report.html import write_report
from tests.helpers import shared_datasets_dir
from tests.report.fakerun import load_hr, make_image_run

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="srbench-shot-"))
    try:
        if argv:
            run = Path(argv[0])
            report = write_report(run, out=tmp / "report.html")
        else:
            d = shared_datasets_dir()
            run = make_image_run(tmp / "20261126-001500-demo", {"set5": load_hr(d / "Set5" / "HR" if d else None)},
                                 models={"bicubic": "bicubic", "nearest": "nearest", "bicubic-blurred": "blurred"},
                                 meta={"run_id": "20261126-001500-demo"})
            report = write_report(run)
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(report.resolve().as_uri())
            out = REPO / "docs" / "report.png"
            page.screenshot(path=str(out))
            b.close()
        print(out)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
