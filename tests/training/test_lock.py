"""Issue 23 item 3: `srbench train` takes the run directory's lock (the one `srbench run` takes), so a
second training, or a --resume into a running training, is refused with one sentence naming the directory
instead of crashing or pruning the other's checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from srbench.rundir.common import LOCK_FILE, RunDirInUse
from srbench.rundir.lock import RunLock
from srbench.training import checkpoints as ckpt
from srbench.training.cli import train_command
from srbench.training.config import load_config
from srbench.training.loop import train
from tests.training.helpers import tiny_overrides


def _args(tiny: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["srresnet", "--data", str(tiny["train"]), "--val", "none", "--steps", "3", "--batch", "4",
            "--crop", "32", "--workers", "0", "--threads", "1", "--out", str(out), "--set", "tensorboard=false",
            "--set", "progress=false", "--set", "ckpt_every=3", *extra]


def test_a_second_training_into_a_locked_directory_is_refused(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    with RunLock(out):  # another process's training (a flock is per open file: this process conflicts too)
        res = CliRunner().invoke(train_command, _args(tiny_data, out))
    assert res.exit_code == 2, res.output
    assert "in use" in res.output and str(out) in res.output and "Traceback" not in res.output
    assert not (out / "log.csv").exists() and not ckpt.has_checkpoint(out, "last")


def test_resume_into_a_running_training_is_refused_and_touches_nothing(tiny_data: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = CliRunner().invoke(train_command, _args(tiny_data, out))
    assert first.exit_code == 0, first.output
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with RunLock(out):
        res = CliRunner().invoke(train_command, [*_args(tiny_data, out, "--resume"), "--steps", "6"])
    assert res.exit_code == 2, res.output
    assert "in use" in res.output and str(out) in res.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_the_lock_is_held_while_training_and_released_after(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    seen: list[bool] = []

    def probe(step: int, losses: dict[str, float]) -> None:
        with pytest.raises(RunDirInUse, match=str(run)):
            RunLock(run).acquire()
        seen.append((run / LOCK_FILE).is_file())

    train(load_config(None, tiny_overrides(tiny_data, run, steps=2)), on_step=probe)
    assert seen == [True, True] and not (run / LOCK_FILE).exists()
    RunLock(run).acquire().release()  # free again
