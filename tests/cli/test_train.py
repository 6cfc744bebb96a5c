"""The `srbench train` click command (as the lead mounts it) and the fp16 export of demo weights."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from srbench.training.checkpoints import export_generator
from srbench.training.cli import train_command
from tests.terminal import run_in_terminal, screen_lines


def test_train_command_runs_and_exports(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["srresnet", "--data", str(tiny_data["train"]), "--val", str(tiny_data["val"]), "--steps", "2",
            "--batch", "2", "--crop", "32", "--workers", "0", "--out", str(out), "--set", "val_every=2",
            "--set", "tensorboard=false", "--set", "progress=false", "--threads", "1"]
    res = CliRunner().invoke(train_command, args)
    assert res.exit_code == 0, res.output
    assert (out / "best.safetensors").is_file() and (out / "log.csv").is_file()
    again = CliRunner().invoke(train_command, args)
    assert again.exit_code == 1 and "--resume" in again.output

    small = export_generator(out / "best.safetensors", tmp_path / "demo.safetensors", meta={"steps": "2"})
    assert small.stat().st_size < 0.6 * (out / "best.safetensors").stat().st_size  # fp16, no D / BN dupes
    from srbench.models.srresnet import build_srresnet

    full = build_srresnet(4, weights=str(out / "best.safetensors"))
    half = build_srresnet(4, weights=str(small))
    x = torch.rand(1, 3, 12, 12)
    assert (full.upscale(x) - half.upscale(x)).abs().max().item() < 2e-2


def test_unknown_key_is_a_clean_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(train_command, ["srresnet", "--set", "stpes=3", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "unknown config keys" in res.output and "steps" in res.output


def test_resume_uses_the_recorded_settings_and_refuses_conflicts(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    """Issue 14.9: a plain `--resume` used to continue with crop 96 / batch 16 and overwrite config.json."""
    import json

    out = tmp_path / "run"
    common = ["srresnet", "--out", str(out), "--workers", "0", "--threads", "1", "--set", "tensorboard=false",
              "--set", "progress=false", "--val", "none"]
    first = CliRunner().invoke(train_command, [*common, "--data", str(tiny_data["train"]), "--steps", "3",
                                               "--batch", "4", "--crop", "32"])
    assert first.exit_code == 0, first.output

    clash = CliRunner().invoke(train_command, [*common, "--resume", "--steps", "6", "--crop", "48"])
    assert clash.exit_code == 1
    assert "crop 32 (given 48)" in clash.output and str(out / "config.json") in clash.output
    assert "--override" in clash.output

    back = CliRunner().invoke(train_command, [*common, "--resume", "--set", "steps=1"])
    assert back.exit_code == 1 and "steps=1 is below the checkpoint's step 3" in back.output

    resumed = CliRunner().invoke(train_command, [*common, "--resume", "--steps", "6"])
    assert resumed.exit_code == 0, resumed.output
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["crop"], cfg["batch"], cfg["steps"], cfg["train_data"]) == (32, 4, 6, [str(tiny_data["train"])])

    forced = CliRunner().invoke(train_command, [*common, "--resume", "--steps", "7", "--batch", "2", "--override"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "config.json").read_text())["batch"] == 2


def test_resume_with_an_unreadable_recorded_config_names_the_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{not json")
    res = CliRunner().invoke(train_command, ["srresnet", "--out", str(out), "--resume"])
    assert res.exit_code == 1 and str(out / "config.json") in res.output and "unreadable" in res.output


# ------------------------------------------------------------------------------------------------ the console

def _tiny(tiny_data: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["srresnet", "--data", str(tiny_data["train"]), "--val", str(tiny_data["val"]), "--steps", "4",
            "--batch", "2", "--crop", "32", "--workers", "0", "--threads", "1", "--out", str(out),
            "--set", "val_every=2", "--set", "log_every=2", "--set", "tensorboard=false", *extra]


def test_without_a_terminal_a_step_line_every_log_every_steps_and_a_final_summary(tiny_data: dict[str, Path],
                                                                                 tmp_path: Path) -> None:
    """Issue 21.4: with no TTY (Slurm) nothing printed between validations, and the end said only `done`."""
    out = tmp_path / "run"
    res = CliRunner().invoke(train_command, _tiny(tiny_data, out, "--no-progress"))
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    steps = [line for line in lines if re.match(r"\[step \d+/4\] lr", line)]
    assert [s.split("]")[0] for s in steps] == ["[step 1/4", "[step 2/4", "[step 4/4"]  # the first, then every 2
    assert re.fullmatch(r"\[step 2/4\] lr 1e-4 · content \d\.\d+ · [\d.e-]+ s/step · eta [\d.]+ s", steps[1]), steps
    vals = [line for line in lines if re.match(r"\[step \d+/4\] val ", line)]
    assert len(vals) == 2 and re.search(r"psnr \d+\.\d{4} dB · ssim 0\.\d{4} · best \d+\.\d{4} dB at step [24]$",
                                        vals[1])
    assert lines[-5].startswith(f"done: {out} (4 steps, ")
    assert re.fullmatch(rf"best validation on {re.escape(str(tiny_data['val']))}: psnr \d+\.\d{{4}} dB · "
                        r"ssim 0\.\d{4} at step [24]", lines[-4])
    assert re.fullmatch(rf"best: {re.escape(str(out / 'best.safetensors'))} \(step [24]\)", lines[-3])
    assert lines[-2] == f"last: {out / 'last.safetensors'} (step 4)"
    assert lines[-1] == (f"evaluate it: srbench run -m srresnet --weights srresnet={out / 'best.safetensors'} "
                         "-d set5,set14,b100 -s 4")
    assert "%|" not in res.output


def test_a_summary_without_validation_points_at_last(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(train_command, [*_tiny(tiny_data, out, "--no-progress"), "--val", "none"])
    assert res.exit_code == 0, res.output
    assert "no validation (val none)" in res.output and "best:" not in res.output
    assert f"--weights srresnet={out / 'last.safetensors'}" in res.output


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")
def test_on_a_terminal_validation_lines_sit_above_the_bar(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    """Issue 21.4 acceptance: validation lines were glued onto the progress bar."""
    out = tmp_path / "run"
    args = _tiny(tiny_data, out)
    code, raw = run_in_terminal(["train", *args[: args.index("tensorboard=false") - 1]])  # TensorBoard on
    lines = screen_lines(raw)
    assert code == 0, "\n".join(lines)
    vals = [line for line in lines if "val " in line and "psnr" in line]
    assert len(vals) == 2 and all(v.startswith("[step ") for v in vals), lines  # each on a line of its own
    bars = [line for line in lines if line.startswith("srresnet x4:")]
    assert bars and "4/4" in bars[-1] and "content=" in bars[-1]
    assert lines[-1].startswith("evaluate it: srbench run -m srresnet --weights srresnet=")
    assert not [line for line in lines if "tensorflow" in line.lower() or "absl" in line]
    assert list((out / "tb").glob("events.out.tfevents.*"))
