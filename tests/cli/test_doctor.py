"""`srbench doctor` through the CLI (diagnose/render themselves: tests/test_doctor.py)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from srbench.cli import cli
from tests.helpers import DOCTOR_NAMES as NAMES


def test_cli_doctor_json() -> None:
    r = CliRunner().invoke(cli, ["doctor", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert [d["name"] for d in doc] == NAMES
    assert all(isinstance(d["present"], bool) and d["where"] for d in doc)
    assert "looked in:" in CliRunner().invoke(cli, ["doctor"]).output
