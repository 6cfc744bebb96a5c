"""``srbench train``: the click command (added to the main CLI by ``cli.add_command(train_command)``) and
the ``python -m srbench.training`` entry point (which also runs under ``torchrun`` for DDP)."""

from __future__ import annotations

import sys
from typing import Any

import click

from srbench.cli_common import data_dir_option, key_value


def _pairs(values: tuple[str, ...]) -> dict[str, Any]:
    pairs = (key_value(item, "KEY=VALUE", param_hint="--set", allow_empty=True) for item in values)
    return {key.replace("-", "_"): value for key, value in pairs}


@click.command("train")
@click.argument("model", type=click.Choice(["srresnet", "srgan", "seed-srresnet", "seed-srgan"]))
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML file with TrainConfig keys (flags below override it).")
@click.option("--scale", type=int, default=None, help="Upscaling factor: 2, 3, 4 or 8 (default 4).")
@click.option("--data", "train_data", multiple=True,
              help="Training HR images: dataset name (div2k-train, default), folder:PATH or PATH. Repeatable.")
@data_dir_option("Where dataset names are looked up (benchmark layout).")
@click.option("--val", "val_data", default=None, help="Validation dataset (default set5); 'none' disables.")
@click.option("--val-every", type=int, default=None, help="Steps between validations (default 1000).")
@click.option("--steps", type=int, default=None, help="Total steps (default 10^6 SRResNet, 2x10^5 SRGAN).")
@click.option("--batch", type=int, default=None, help="Global batch size (default 16), split over DDP ranks.")
@click.option("--crop", type=int, default=None, help="HR crop size in pixels (default 96).")
@click.option("--lr", type=float, default=None, help="Adam learning rate (default 1e-4).")
@click.option("--lr-decay-step", type=int, default=None, help="Step where lr drops by 10x (SRGAN: 10^5).")
@click.option("--content-loss", type=click.Choice(["mse", "vgg22", "vgg54"]), default=None,
              help="Content loss (default mse for srresnet, vgg54 for srgan).")
@click.option("--vgg-weights", default=None,
              help="Path to vgg19-dcbb9e9d.pth (default: $TORCH_HOME/hub/checkpoints). 'random' = tests only.")
@click.option("--init", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Generator weights to start from (SRGAN: the trained SRResNet-MSE checkpoint).")
@click.option("--out", "out_dir", default=None, help="Run folder (default runs/<model>_x<scale>).")
@click.option("--resume", is_flag=True, default=None,
              help="Continue the run in <out> exactly, with its recorded settings (config.json).")
@click.option("--override", "allow_changes", is_flag=True,
              help="With --resume: allow options that differ from the run's recorded settings (crop, batch, ...).")
@click.option("--seed", type=int, default=None)
@click.option("--workers", type=int, default=None, help="DataLoader worker processes (default 2).")
@click.option("--device", default=None, help="auto (default), cpu, cuda, cuda:N.")
@click.option("--amp", type=click.Choice(["none", "bf16", "fp16"]), default=None, help="Autocast: bf16 (CUDA, or CPUs with bf16 units: about 3x faster steps with AMX, 1.8x with avx512_bf16 only), fp16 (CUDA). Default none.")
@click.option("--channels-last/--no-channels-last", default=None, help="NHWC tensors (default: on).")
@click.option("--compile", "compile_", is_flag=True, default=None, help="torch.compile the networks.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="Any other TrainConfig key.")
def train_command(model: str, config_path: str | None, extra: tuple[str, ...], compile_: bool | None,
                  allow_changes: bool, **flags: Any) -> None:
    """Train SRResNet-MSE or SRGAN (Ledig et al. 2017) as srbench's recipe says; resumable, DDP-ready.
    seed-srresnet / seed-srgan train the seed article's Keras architecture (per-channel PReLU, BN eps 1e-3,
    momentum 0.8) in PyTorch; `srbench convert best.safetensors gen.h5` gives its build_srresnet().load_weights file.

    \b
    srbench train srresnet --data div2k-train --steps 1000000
    srbench train srgan --init runs/srresnet_x4/best.safetensors --vgg-weights vgg19-dcbb9e9d.pth
    srbench train seed-srgan --init runs/seed-srresnet_x4/best.safetensors --vgg-weights vgg19-dcbb9e9d.pth
    torchrun --nproc-per-node 4 -m srbench.training srresnet ...    (DDP, one process per GPU)
    """
    import logging

    from srbench.cli_common import fail
    from srbench.interfaces import SRBenchError
    from srbench.rundir.common import RunDirInUse
    from srbench.training.config import load_config
    from srbench.training.loop import TrainingInterrupted, train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    overrides: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    if flags.get("data_dir") is not None:
        overrides["data_dir"] = str(flags["data_dir"])
    if flags.get("train_data"):
        overrides["train_data"] = list(flags["train_data"])
    else:
        overrides.pop("train_data", None)
    overrides["compile"] = compile_
    overrides.update(_pairs(extra))
    overrides["model"] = model
    try:
        cfg = load_config(config_path, overrides, allow_changes=allow_changes)
        run_dir = train(cfg)
    except TrainingInterrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(130)
    except RunDirInUse as exc:  # could not start, as `srbench run` says of a folder in use: exit 2
        fail(str(exc))
    except SRBenchError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"done: {run_dir}")


def main(argv: list[str] | None = None) -> None:
    train_command.main(args=argv, prog_name="python -m srbench.training")
