"""`srbench report` through the CLI (the ``image_run`` fixture is in tests/conftest.py).

These skip until the lead pastes the commands into srbench/cli.py (snippet in the H4 report)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from srbench.cli import cli

pytestmark = pytest.mark.skipif(
    not {"table", "check", "baseline", "report"} <= set(cli.commands),
    reason="srbench table/check/baseline/report not in srbench/cli.py yet",
)


def test_report_command_with_crop(image_run: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["report", str(image_run), "--crop-box", "8,8,32,32",
                                 "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    assert "= 8,8,32,32 HR pixels" in (tmp_path / "r.html").read_text(encoding="utf-8")
