"""`srbench bench` through the CLI: the table names the ceilings; a model that cannot be built is a sentence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from srbench.cli import cli


def test_bench_prints_the_roofline_and_errors_as_sentences(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["bench", "-m", "bicubic,no-such-model", "-s", "2", "--sizes", "8,6x10", "--iters", "1",
                                 "--warmup", "0", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "compute ceiling:" in r.output and "memory ceiling:" in r.output and "mem " in r.output
    assert "warning: no-such-model x2: could not be built:" in r.output and "{'model'" not in r.output
    csv = pd.read_csv(tmp_path / "throughput.csv")
    assert list(csv["input"]) == ["8x8", "6x10"] and (csv["bound"] == "memory").all()


def test_bench_rejects_bad_sizes() -> None:
    r = CliRunner().invoke(cli, ["bench", "-m", "bicubic", "--sizes", "8xq"])
    assert r.exit_code != 0 and "sizes must be N or HxW" in r.output


def test_bench_refuses_an_impossible_device() -> None:
    r = CliRunner().invoke(cli, ["bench", "-m", "bicubic", "--device", "banana"])
    assert r.exit_code == 2 and "'banana' is not a device" in r.output
