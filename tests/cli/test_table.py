"""`srbench table` through the CLI: the committed bicubic x4 run against the golden tables.

These skip until the lead pastes the commands into srbench/cli.py (snippet in the H4 report)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from srbench.cli import cli
from tests.report.helpers import BICUBIC_RUN, GOLDEN

pytestmark = pytest.mark.skipif(
    not {"table", "check", "baseline", "report"} <= set(cli.commands),
    reason="srbench table/check/baseline/report not in srbench/cli.py yet",
)


def test_table_matches_golden(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["table", str(BICUBIC_RUN), "--published"])
    assert r.exit_code == 0, r.output
    assert r.output == (GOLDEN / "bicubic_x4.md").read_text(encoding="utf-8")
    r = CliRunner().invoke(cli, ["table", str(BICUBIC_RUN), "--format", "latex",
                                 "-o", str(tmp_path / "t.tex")])
    assert r.exit_code == 0 and (tmp_path / "t.tex").read_text() == (GOLDEN / "bicubic_x4.tex").read_text()
    r = CliRunner().invoke(cli, ["table", str(BICUBIC_RUN), "--metrics", "lpips"])
    assert r.exit_code == 2 and "no values for metrics lpips" in r.output
