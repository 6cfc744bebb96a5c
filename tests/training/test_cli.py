"""The `srbench train` click command (as the lead mounts it) and the fp16 export of demo weights."""

from __future__ import annotations

from pathlib import Path

import torch
from click.testing import CliRunner

from srbench.training.checkpoints import export_generator
from srbench.training.cli import train_command


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
