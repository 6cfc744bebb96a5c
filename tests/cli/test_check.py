"""`srbench check` (with `srbench baseline save` to make its baseline) through the CLI, as a subprocess.

These skip until the lead pastes the commands into srbench/cli.py (snippet in the H4 report)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from srbench.cli import cli
from tests.report.fakerun import make_image_run
from tests.report.helpers import hr_images

pytestmark = pytest.mark.skipif(
    not {"table", "check", "baseline", "report"} <= set(cli.commands),
    reason="srbench table/check/baseline/report not in srbench/cli.py yet",
)


def test_check_exit_codes_as_a_subprocess(tmp_path: Path) -> None:
    images = hr_images()
    base = make_image_run(tmp_path / "base", images, models={"bicubic": "bicubic"}, throughput=False)
    same = make_image_run(tmp_path / "same", images, models={"bicubic": "bicubic"}, throughput=False)
    blurred = make_image_run(tmp_path / "blur", images, models={"bicubic": "blurred"}, throughput=False)
    rgb = make_image_run(tmp_path / "rgb", images, models={"bicubic": "bicubic"}, throughput=False,
                         meta={"protocol": {"colour": "rgb"}})
    srbench = [sys.executable, "-m", "srbench.cli"]
    saved = subprocess.run([*srbench, "baseline", "save", str(base), "-o", str(tmp_path / "b.json")],
                           capture_output=True, text=True)
    assert saved.returncode == 0, saved.stderr
    codes = {}
    for name, run in (("same", same), ("blurred", blurred), ("rgb", rgb)):
        p = subprocess.run([*srbench, "check", str(run), "--baseline", str(tmp_path / "b.json"),
                            "--junit", str(tmp_path / f"{name}.xml"), "--markdown", str(tmp_path / f"{name}.md")],
                           capture_output=True, text=True)
        codes[name] = p.returncode
        assert p.stdout.startswith("srbench check: ")
    assert codes == {"same": 0, "blurred": 1, "rgb": 2}
    assert ET.parse(tmp_path / "blurred.xml").getroot().get("failures") == "3"
    assert "REGRESSION (exit 1)" in (tmp_path / "blurred.md").read_text()
    loose = subprocess.run([*srbench, "check", str(blurred), "-b", str(tmp_path / "b.json"), "-t", "psnr=5",
                            "-t", "ssim=1", "-t", "lpips=1"], capture_output=True, text=True)
    assert loose.returncode == 0, loose.stdout
