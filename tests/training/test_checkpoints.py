"""Checkpoints under faults: the pair is committed atomically and a damaged newest checkpoint falls back to
the previous good one. The fault injector replaces ``checkpoints._write`` (every write boundary of a save)
and stops the save at the k-th boundary, for every k: in-process by an exception (nothing cleans up, like
a kill), and in the slow tier by ``os._exit`` in a real subprocess, followed by ``--resume`` and a bitwise
comparison with an uninterrupted run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from srbench.training import checkpoints as ckpt
from srbench.training.config import load_config
from srbench.training.loop import train
from tests.training.helpers import tiny_overrides
from tests.training.test_loop import _assert_bitwise


class Killed(BaseException):
    """A simulated SIGKILL: a BaseException, so no `except Exception` in the code under test swallows it."""


def count_boundaries(monkeypatch: pytest.MonkeyPatch, action: Callable[[], Any]) -> list[str]:
    ops: list[str] = []
    real = ckpt._write

    def counting(op: str, fn: Callable[..., Any], *args: Any) -> Any:
        ops.append(op)
        return real(op, fn, *args)

    monkeypatch.setattr(ckpt, "_write", counting)
    action()
    monkeypatch.setattr(ckpt, "_write", real)
    return ops


def kill_at(monkeypatch: pytest.MonkeyPatch, k: int) -> None:
    """Make the k-th write boundary (0-based, counted from now) die before it writes."""
    real = ckpt._write
    seen = [0]

    def faulty(op: str, fn: Callable[..., Any], *args: Any) -> Any:
        if seen[0] == k:
            raise Killed(f"killed before write {k} ({op})")
        seen[0] += 1
        return real(op, fn, *args)

    monkeypatch.setattr(ckpt, "_write", faulty)


def _save(run: Path, step: int, net: nn.Module) -> Path:
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(float(step))
    return ckpt.save_checkpoint(run, "last", step=step, generator=net, discriminator=None,
                                state={"marker": torch.tensor([step])}, meta={"model": "toy"})


def test_a_kill_at_every_write_boundary_leaves_the_old_or_the_new_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = nn.Linear(3, 2)
    probe = tmp_path / "probe"
    _save(probe, 1, net)
    ops = count_boundaries(monkeypatch, lambda: _save(probe, 2, net))
    assert {"weights", "state", "commit", "publish"} <= set(ops), ops
    assert ops.index("commit") > ops.index("state") > 0  # the commit comes after both files are written
    for k in range(len(ops) + 1):  # k == len(ops): the save completes
        run = tmp_path / f"k{k}"
        _save(run, 1, net)
        kill_at(monkeypatch, k)
        try:
            _save(run, 2, net)
        except Killed:
            pass
        monkeypatch.undo()
        g, _, state = ckpt.load_checkpoint(run, "last")
        committed_new = k > ops.index("commit")
        want = 2 if committed_new else 1
        assert state["step"] == want and int(state["marker"]) == want, (k, ops[k] if k < len(ops) else "done")
        assert torch.all(g["weight"] == want)
        # a new save after the crash works and cleans up the leftovers of the killed one
        _save(run, 3, net)
        assert ckpt.load_checkpoint(run, "last")[2]["step"] == 3
        assert [s for s, _ in ckpt.committed(run, "last")] == [3, want]
        assert not list((run / ckpt.CHECKPOINT_DIR).glob(".*")) and not list(run.glob(".*"))
        published = torch.load(run / "last.state.pt", weights_only=True)
        assert published["step"] == 3


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    net = nn.Linear(3, 2)
    run = tmp_path / "run"
    _save(run, 1, net)
    _save(run, 2, net)
    newest = ckpt.committed(run, "last")[0][1]
    (newest / ckpt.STATE_FILE).write_bytes(b"torn")  # e.g. a disk error under the committed file
    with caplog.at_level("WARNING", logger="srbench.training"):
        _, _, state = ckpt.load_checkpoint(run, "last")
    assert state["step"] == 1
    assert "previous good one" in caplog.text and str(newest / ckpt.STATE_FILE) in caplog.text
    (ckpt.committed(run, "last")[1][1] / ckpt.WEIGHTS_FILE).unlink()
    with pytest.raises(ckpt.CheckpointError, match="no usable checkpoint 'last'.*incomplete"):
        ckpt.load_checkpoint(run, "last")


def test_only_the_newest_two_are_kept_and_the_published_files_are_the_newest(tmp_path: Path) -> None:
    net = nn.Linear(3, 2)
    run = tmp_path / "run"
    for step in (1, 2, 3, 3):  # the same step twice (end of run, then Ctrl-C) replaces it
        _save(run, step, net)
    assert [s for s, _ in ckpt.committed(run, "last")] == [3, 2]
    from safetensors import safe_open

    with safe_open(str(run / "last.safetensors"), framework="pt") as f:
        assert f.metadata()["step"] == "3"


def test_an_old_run_folder_with_only_the_top_level_pair_still_loads(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    run = tmp_path / "old"
    run.mkdir()
    save_file({"generator.w": torch.ones(2)}, str(run / "last.safetensors"), metadata={"step": "4"})
    torch.save({"step": 4}, run / "last.state.pt")
    g, _, state = ckpt.load_checkpoint(run, "last")
    assert state["step"] == 4 and torch.equal(g["w"], torch.ones(2))
    torch.save({"step": 6}, run / "last.state.pt")
    with pytest.raises(ckpt.CheckpointError, match="torn: weights at step 4, state at step 6"):
        ckpt.load_checkpoint(run, "last")


def _train_boundaries(tiny: dict[str, Path], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return count_boundaries(monkeypatch, lambda: train(load_config(None, tiny_overrides(tiny, tmp / "count"))))


def _resume_and_compare(tiny: dict[str, Path], run: Path, full: Path) -> None:
    """--resume (or, killed before the first commit, nothing to resume: the same command without it)."""
    train(load_config(None, tiny_overrides(tiny, run, resume=ckpt.has_checkpoint(run, "last"))))
    _assert_bitwise(full, run)


def test_resume_after_a_kill_between_commit_and_publish_is_bitwise_identical(
        tiny_data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window of issue 14 item 8: the weights file replaced, the state file not yet."""
    full = train(load_config(None, tiny_overrides(tiny_data, tmp_path / "full")))
    ops = _train_boundaries(tiny_data, tmp_path, monkeypatch)
    publishes = [i for i, op in enumerate(ops) if op == "publish"]
    k = publishes[-1]  # the second save (step 6): weights published, state not
    run = tmp_path / "cut"
    kill_at(monkeypatch, k)
    with pytest.raises(Killed):
        train(load_config(None, tiny_overrides(tiny_data, run)))
    monkeypatch.undo()
    _resume_and_compare(tiny_data, run, full)


@pytest.mark.slow
def test_os_exit_at_every_write_boundary_then_resume_is_bitwise_identical(
        tiny_data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = train(load_config(None, tiny_overrides(tiny_data, tmp_path / "full")))
    ops = _train_boundaries(tiny_data, tmp_path, monkeypatch)
    assert ops.count("commit") == 2  # saves at steps 3 and 6
    repo = Path(__file__).resolve().parents[2]
    for k in range(len(ops)):
        run = tmp_path / f"k{k}"
        overrides = tiny_overrides(tiny_data, run)
        script = textwrap.dedent(f"""
            import os, sys
            sys.path.insert(0, {str(repo)!r})
            from srbench.training import checkpoints as ckpt
            from srbench.training.config import load_config
            from srbench.training.loop import train
            real, seen = ckpt._write, [0]
            def faulty(op, fn, *args):
                if seen[0] == {k}:
                    os._exit(137)
                seen[0] += 1
                return real(op, fn, *args)
            ckpt._write = faulty
            train(load_config(None, {overrides!r}))
            sys.exit(3)  # not reached: the kill comes first
        """)
        p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert p.returncode == 137, (k, p.stderr[-2000:])
        _resume_and_compare(tiny_data, run, full)


# ---------------------------------------------------------------- issue 23 items 4 and 6: fallback, digests


def _flip_inside(path: Path, needle: bytes) -> None:
    """Damage one byte inside a tensor's data (found by its bytes), leaving every header readable."""
    data = bytearray(path.read_bytes())
    at = data.find(needle)
    assert at > 0, f"{needle!r} not in {path}"
    data[at] ^= 0x10
    path.write_bytes(bytes(data))


def test_publish_after_a_fallback_publishes_the_checkpoint_loaded(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Issue 23 item 4: the newest directory lacks state.pt; loading falls back to step 1, and publishing
    used to take the newest directory anyway (FileNotFoundError)."""
    net = nn.Linear(3, 2)
    run = tmp_path / "run"
    _save(run, 1, net)
    _save(run, 2, net)
    newest = ckpt.committed(run, "last")[0][1]
    (newest / ckpt.STATE_FILE).unlink()
    with caplog.at_level("WARNING", logger="srbench.training"):
        loaded = ckpt.load_newest(run, "last")
    assert loaded.state["step"] == 1 and loaded.directory == ckpt.committed(run, "last")[1][1]
    assert str(newest) in caplog.text
    ckpt.publish(run, "last", loaded.directory)
    assert torch.load(run / "last.state.pt", weights_only=True)["step"] == 1
    ckpt.publish(run, "last")  # without a directory: the newest usable one, not the newest
    assert torch.load(run / "last.state.pt", weights_only=True)["step"] == 1
    _save(run, 3, net)  # the next save publishes what it committed
    assert torch.load(run / "last.state.pt", weights_only=True)["step"] == 3


def test_resume_with_the_newest_state_missing_falls_back_and_is_bitwise_identical(
        tiny_data: dict[str, Path], tmp_path: Path) -> None:
    full = train(load_config(None, tiny_overrides(tiny_data, tmp_path / "full")))
    run = tmp_path / "cut"
    train(load_config(None, tiny_overrides(tiny_data, run)))
    assert [s for s, _ in ckpt.committed(run, "last")] == [6, 3]
    (ckpt.committed(run, "last")[0][1] / ckpt.STATE_FILE).unlink()
    train(load_config(None, tiny_overrides(tiny_data, run, resume=True)))  # used to raise FileNotFoundError
    _assert_bitwise(full, run)


def test_checkpoint_files_are_byte_reproducible(tmp_path: Path) -> None:
    """Issue 23 item 6: the safetensors metadata came out in a random (hash-map) order on every save."""
    net = nn.Linear(3, 2)
    meta = {"model": "toy", "scale": "4", "content_loss": "mse", "vgg_weights": "", "format": "srbench-train-1"}
    blobs = set()
    for i in range(4):
        run = tmp_path / f"r{i}"
        ckpt.save_checkpoint(run, "last", step=5, generator=net, discriminator=None,
                             state={"marker": torch.arange(4.0), "best_psnr": 30.5}, meta=meta)
        ckdir = ckpt.committed(run, "last")[0][1]
        blobs.add(((ckdir / ckpt.WEIGHTS_FILE).read_bytes(), (ckdir / ckpt.STATE_FILE).read_bytes()))
    assert len(blobs) == 1


@pytest.mark.parametrize("which", [ckpt.WEIGHTS_FILE, ckpt.STATE_FILE])
def test_damaged_tensor_bytes_are_detected_and_the_previous_checkpoint_is_used(
        tmp_path: Path, which: str, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 23 item 6: a flipped byte inside tensor data loaded silently (safetensors and torch.load
    check no checksums); the per-file digests recorded in state.pt catch it."""
    net = nn.Linear(3, 2)
    run = tmp_path / "run"
    for step in (1, 2):
        with torch.no_grad():
            net.weight.fill_(float(step))
            net.bias.fill_(1234.5 + step)
        ckpt.save_checkpoint(run, "last", step=step, generator=net, discriminator=None,
                             state={"moment": torch.full((4,), 4321.5 + step)}, meta={"model": "toy"})
    newest = ckpt.committed(run, "last")[0][1]
    value = 1236.5 if which == ckpt.WEIGHTS_FILE else 4323.5
    _flip_inside(newest / which, torch.tensor([value]).numpy().tobytes())
    with caplog.at_level("WARNING", logger="srbench.training"):
        g, _, state = ckpt.load_checkpoint(run, "last")
    assert state["step"] == 1 and torch.all(g["weight"] == 1)
    assert str(newest / which) in caplog.text and "digest" in caplog.text
    assert ckpt.last_good(run, "last") == ckpt.committed(run, "last")[1][1]


def test_a_divergence_after_the_newest_checkpoint_was_damaged_names_the_intact_one(
        tiny_data: dict[str, Path], tmp_path: Path) -> None:
    """Issue 23 item 6: the divergence message named the (damaged) newest checkpoint as the last good one."""
    from srbench.models.archs.srresnet import SRResNet
    from srbench.training.loop import TrainingDiverged

    run = tmp_path / "run"

    def damage_then_poison(step: int, losses: dict[str, float]) -> None:
        if step == 6:  # after the save at step 6: its weights file rots, then the loss goes NaN
            newest = ckpt.committed(run, "last")[0][1] / ckpt.WEIGHTS_FILE
            data = bytearray(newest.read_bytes())
            data[-5] ^= 0x10
            newest.write_bytes(bytes(data))
            import gc

            for obj in gc.get_objects():
                if isinstance(obj, SRResNet):
                    with torch.no_grad():
                        obj.tail.weight.fill_(float("nan"))

    with pytest.raises(TrainingDiverged) as info:
        train(load_config(None, tiny_overrides(tiny_data, run, steps=9)), on_step=damage_then_poison)
    assert "last-00000003" in str(info.value) and "last-00000006" not in str(info.value)
