"""``srbench train``: the click command (added to the main CLI by ``cli.add_command(train_command)``) and
the ``python -m srbench.training`` entry point (which also runs under ``torchrun`` for DDP)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from srbench.cli_common import data_dir_option, fail, key_value, progress_option
from srbench.console import Console
from srbench.interfaces import SRBenchError
from srbench.rundir.common import RunDirInUse
from srbench.training.config import load_config


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
@click.option("--amp", type=click.Choice(["none", "bf16", "fp16"]), default=None,
              help="Autocast: bf16 (CUDA, or CPUs with bf16 units: about 3x faster steps with AMX, 1.8x with "
                   "avx512_bf16 only), fp16 (CUDA). Default none.")
@click.option("--channels-last/--no-channels-last", default=None, help="NHWC tensors (default: on).")
@click.option("--compile", "compile_", is_flag=True, default=None, help="torch.compile the networks.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@progress_option("No progress bar: a line every log_every steps (`--set log_every=N`, default 50), as "
                 "without a terminal (Slurm, CI, a pipe).")
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="Any other TrainConfig key.")
def train_command(model: str, config_path: str | None, extra: tuple[str, ...], compile_: bool | None,
                  allow_changes: bool, no_progress: bool, **flags: Any) -> None:
    """Train SRResNet-MSE or SRGAN (Ledig et al. 2017) as srbench's recipe says; resumable, DDP-ready.
    seed-srresnet / seed-srgan train the seed article's Keras architecture (per-channel PReLU, BN eps 1e-3,
    momentum 0.8) in PyTorch; `srbench convert best.safetensors gen.h5` gives its build_srresnet().load_weights file.

    \b
    srbench train srresnet --data div2k-train --steps 1000000
    srbench train srgan --init runs/srresnet_x4/best.safetensors --vgg-weights vgg19-dcbb9e9d.pth
    srbench train seed-srgan --init runs/seed-srresnet_x4/best.safetensors --vgg-weights vgg19-dcbb9e9d.pth
    torchrun --nproc-per-node 4 -m srbench.training srresnet ...    (DDP, one process per GPU)

    On a terminal, a progress bar with the losses; otherwise (or with --no-progress) a line every log_every
    steps: [step 1200/100000] lr 1e-4 · content 0.0123 · 0.42 s/step · eta 11:40:02. Validations print a
    line each; the end prints the best validation, the checkpoints and the command that evaluates them.
    Under torchrun, rank 0 alone prints.
    """
    from srbench.training.loop import (  # deferred: it imports PIL, safetensors, torch, tqdm
        TrainingInterrupted,
        final_summary,
        train,
    )

    main = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 prints for everyone
    overrides: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    if flags.get("data_dir") is not None:
        overrides["data_dir"] = str(flags["data_dir"])
    if flags.get("train_data"):
        overrides["train_data"] = list(flags["train_data"])
    else:
        overrides.pop("train_data", None)
    overrides["compile"] = compile_
    overrides.update(_pairs(extra))
    if no_progress:
        overrides["progress"] = False
    overrides["model"] = model
    try:
        cfg = load_config(config_path, overrides, allow_changes=allow_changes)
        console = Console(progress=cfg.progress) if main else Console("quiet")
        _log_to(console)
        run_dir = train(cfg, console=console)
    except TrainingInterrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(130)
    except RunDirInUse as exc:  # could not start, as `srbench run` says of a folder in use: exit 2
        fail(str(exc))
    except SRBenchError as exc:
        raise click.ClickException(str(exc)) from None
    if main:
        click.echo("\n".join(final_summary(run_dir, cfg)))


class _ConsoleHandler(logging.Handler):
    """Log records (a skipped image, a damaged checkpoint) as console lines: above the bar, never glued to it."""

    def __init__(self, console: Any) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
            self.console.say(level + record.getMessage())
        except Exception:  # logging must never stop a training
            self.handleError(record)


def _log_to(console: Any) -> None:
    """srbench's training logger (and the data loader's) through ``console``, once per process."""
    for name in ("srbench.training", "srbench.data"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, _ConsoleHandler)]
        logger.addHandler(_ConsoleHandler(console))
        logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    train_command.main(args=argv, prog_name="python -m srbench.training")
