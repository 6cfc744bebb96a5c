"""Plain helpers of the report tests (the fixtures built from them are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import shared_datasets_dir
from tests.report.fakerun import load_hr

XSS = "<script>alert(1)</script>"
HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
# A real run, committed (run.json, results.csv, summary.csv; no images): made by
#   srbench run -m bicubic -d set5,set14 -s 4 --data-dir $SRBENCH_SHARED_DATASETS --metrics psnr,ssim \
#     --no-throughput
# test_tables.py's test_golden_from_a_fresh_run re-runs it (about 7 s) and checks that it still renders to
# the same golden files. To regenerate the goldens after an intended change:
#   SRBENCH_UPDATE_GOLDEN=1 pytest tests/report/test_tables.py
BICUBIC_RUN = HERE / "fixtures" / "bicubic_x4"


def hr_images(side: int = 200) -> dict:
    """Set5 (first 3 images, central side x side crops: keeps the tests quick) from
    $SRBENCH_SHARED_DATASETS when present, else synthetic images."""
    d = shared_datasets_dir()
    out = {}
    for name, img in load_hr(d / "Set5" / "HR" if d else None, limit=3).items():
        y, x = max(0, (img.shape[0] - side) // 2), max(0, (img.shape[1] - side) // 2)
        out[name] = img[y : y + side, x : x + side]
    return {"set5": out}
