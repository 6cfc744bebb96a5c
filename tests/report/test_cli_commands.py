"""`srbench table`, `srbench check`, `srbench baseline save`, `srbench report` through the CLI.

These skip until the lead pastes the commands into srbench/cli.py (snippet in the H4 report)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from srbench.cli import cli
from tests.report.fakerun import make_image_run
from tests.report.helpers import hr_images
from tests.report.test_tables import BICUBIC_RUN, GOLDEN

pytestmark = pytest.mark.skipif(
    not {"table", "check", "baseline", "report"} <= set(cli.commands),
    reason="srbench table/check/baseline/report not in srbench/cli.py yet",
)


def test_table_matches_golden(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["table", str(BICUBIC_RUN), "--published"])
    assert r.exit_code == 0, r.output
    assert r.output == (GOLDEN / "bicubic_x4.md").read_text(encoding="utf-8")
    r = CliRunner().invoke(cli, ["table", str(BICUBIC_RUN), "--format", "latex", "-o", str(tmp_path / "t.tex")])
    assert r.exit_code == 0 and (tmp_path / "t.tex").read_text() == (GOLDEN / "bicubic_x4.tex").read_text()
    r = CliRunner().invoke(cli, ["table", str(BICUBIC_RUN), "--metrics", "lpips"])
    assert r.exit_code == 2 and "no values for metrics lpips" in r.output


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


def test_report_command_with_crop(image_run: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["report", str(image_run), "--crop-box", "8,8,32,32", "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    assert "= 8,8,32,32 HR pixels" in (tmp_path / "r.html").read_text(encoding="utf-8")
