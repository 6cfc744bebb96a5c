"""The ``srbench`` command line: a thin click layer over the library.

Each command's docstring is its help text. Heavy imports (torch, pandas) happen inside the commands, so
``srbench --help`` is instant.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from srbench import __version__
from srbench.check import check as run_check
from srbench.check import default_baseline_path, save_baseline
from srbench.cli_common import (
    check_device,
    data_dir_option,
    fail,
    key_value,
    key_values,
    library_errors,
    progress_option,
    scales_option,
    weights_option,
)
from srbench.cli_common import csv_list as _csv_list
from srbench.cli_common import scales as _scales
from srbench.config import DEFAULT_MAX_PIXELS, RunConfig, describe_conflicts, recorded_config, resume_conflicts
from srbench.configfile import check_fields, read_toml
from srbench.data.catalogue import fetch, list_manifests
from srbench.doctor import diagnose, render
from srbench.interfaces import ModelError, SRBenchError
from srbench.markup import plain
from srbench.perf.bench import BenchOptions, TimingImages, jobs_for, run_bench
from srbench.perf.table import summary_table
from srbench.registry import PATH_KINDS, describe_models, kind_options, resolve
from srbench.rundir import read_run_json, summary_frame
from srbench.training.cli import train_command  # click only: no torch at start-up

_fail = fail  # for commands that stop with a sentence themselves (srbench.cli_common.fail)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="srbench")
def cli() -> None:
    """srbench: faithful super-resolution benchmarking (PSNR/SSIM on MATLAB Y, LPIPS, throughput)."""


# ---------------------------------------------------------------------------------------------------- run


@cli.command()
@click.option("--models", "-m", default=None, help="Comma-separated model names [default: bicubic,srresnet,srgan].")
@click.option("--datasets", "-d", default=None,
              help="Comma-separated datasets: samples, set5, set14, b100, urban100, div2k-valid, folder:PATH "
                   "[default: samples].")
@scales_option()
@data_dir_option()
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory [default: reports/<run-id>].")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Continue an interrupted run in this directory (its config is reused).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="TOML file with RunConfig fields; flags override it.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1, ... [default: cpu].")
@click.option("--lr-source", type=click.Choice(["matlab", "official"]), default=None,
              help="Regenerate LR with srbench's MATLAB imresize (default) or use the dataset's official LR files.")
@click.option("--metrics", default=None,
              help="Comma-separated subset of psnr,ssim,lpips,niqe [default: psnr,ssim,lpips].")
@click.option("--colour", type=click.Choice(["y", "rgb"]), default=None, help="PSNR/SSIM on MATLAB Y (default) or RGB.")
@click.option("--grayscale", type=click.Choice(["replicate", "raw"]), default=None,
              help="Single-channel HR files (Set14 bridge): copy to RGB first, as EDSR/RCAN/BasicSR do (default), "
                   "or score the gray values raw, as the published bicubic tables do.")
@click.option("--lpips-net", type=click.Choice(["alex", "vgg"]), default=None, help="LPIPS backbone [default: alex].")
@click.option("--lpips-weights", default=None,
              help="Path of the LPIPS backbone ImageNet weights (else torch hub cache).")
@weights_option()
@click.option("--tile", type=click.IntRange(min=1), default=None,
              help="Process large images in tiles of this LR size (pixels, >= 1).")
@click.option("--compare", default=None, help="Comma-separated image ids for visual comparisons [default: first 2].")
@click.option("--crop-box", default=None, metavar="X,Y,W,H", help="Region (HR pixels) for zoomed comparison crops.")
@click.option("--no-throughput", is_flag=True, help="Skip the timed throughput pass.")
@click.option("--max-memory", "max_memory", default=None, metavar="BYTES",
              help="Tile an image automatically when a model's activations on it would take more (e.g. 8G, 512M; "
                   "0: never) [default: half the free memory]; same output, the tiles overlap.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Helper threads that read the next images and score the previous one while the models run "
                   "[default: min(4, the cores the models leave free): cores - 1 on a GPU, 0 for a CPU model that "
                   "takes every core]; 0: one step after another. The results are the same.")
@click.option("--throughput-sizes", default=None, metavar="N1,N2,...",
              help="Square LR sizes of the timed pass, besides the first 5 images per dataset [default: 128].")
@click.option("--time-budget", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Seconds per timed cell, at least 3 calls; less when the median's 95% CI is within 2% [default: 2].")
@click.option("--max-pixels", type=click.IntRange(min=0), default=None,
              help="Refuse HR images with more pixels (decompression bombs), checked from the header; 0: no "
                   "limit [default: 40000000].")
@progress_option("No progress bars: one plain line per finished dataset, scale and model, and a heartbeat "
                 "every 30 s during long steps (what a run prints without a terminal).")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and the final results path.")
@click.option("--bless", "bless", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the results as a regression baseline to this file (see `srbench check`).")
@library_errors()
def run(**opts: Any) -> None:
    """Evaluate models on datasets and write results.csv, summary.csv, run.json and report.html.

    With no arguments: the default models (bicubic and the demo SRResNet/SRGAN) on the built-in offline
    `samples` set at x4. Exit 0: everything ran; 1: a model, dataset or image failed (the rest still ran),
    or the run failed part-way (run.json says "failed"); 2: the run could not start (bad option, run
    directory in use, unwritable, or --resume of a folder without a readable run.json); 130: Ctrl-C.

    Each dataset's PSNR/SSIM summary is printed as soon as that dataset is done (on stderr; the final
    table goes to stdout). On a terminal: one progress bar per dataset and scale naming the running model;
    otherwise (CI, Slurm, a pipe) or with --no-progress, plain log lines.
    """
    from srbench.console import Console  # deferred: only a run draws progress (--help stays instant)
    from srbench.evaluate import evaluate  # deferred: it imports PIL

    if opts["resume_dir"]:
        run_dir = opts["resume_dir"]
        config = _resume_config(opts)
    else:
        run_dir = opts["out"]
        config = _run_config(opts)
    _check_run(config)
    quiet = opts["quiet"]
    console = Console(progress=not opts["no_progress"], quiet=quiet)
    outcome = evaluate(config, run_dir, resume=bool(opts["resume_dir"]), progress=not opts["no_progress"],
                       command=" ".join(["srbench", *map(shlex.quote, sys.argv[1:])]), console=console)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports for everyone
        sys.exit(0 if outcome.ok else 1)
    if not quiet:
        _print_summary(outcome)
        for w in outcome.warnings:
            click.secho(f"warning: {w}", fg="yellow", err=True)
    if outcome.errors:
        click.secho(f"{len(outcome.errors)} error(s):", fg="red", err=True)
        for e in outcome.errors:
            click.secho(f"  {e['model']} / {e['dataset']} x{e['scale']} / {e['image']}: {e['error']}",
                        fg="red", err=True)
    if outcome.status == "failed":
        click.secho(f"run failed (see the errors above); {outcome.run_dir / 'run.json'} says \"failed\", the rows "
                    "computed are kept: fix the cause and continue with --resume", fg="red", err=True)
    click.echo(f"results: {outcome.run_dir}")
    if opts.get("bless") and outcome.ok:
        click.echo(f"baseline: {save_baseline(outcome.run_dir, opts['bless'])}")
    if outcome.status == "interrupted":
        sys.exit(130)
    sys.exit(0 if outcome.ok else 1)


def _run_config(opts: dict[str, Any]) -> Any:

    base: dict[str, Any] = {}
    if opts["config_file"]:
        base = read_toml(opts["config_file"])
        check_fields(base, RunConfig, str(opts["config_file"]))
    for name in ("models", "datasets", "metrics"):  # an empty list is a mistake, not "the defaults"
        if opts[name] is not None and not _csv_list(opts[name]):
            raise click.BadParameter(f"{opts[name]!r} names nothing: give one or more, comma-separated "
                                     "(or leave the option out for the defaults)", param_hint=f"--{name}")
    flags: dict[str, Any] = {
        "models": _csv_list(opts["models"]) or None,
        "datasets": _csv_list(opts["datasets"]) or None,
        "scales": _scales(opts["scale"]) or None,
        "device": opts["device"],
        "lr_source": opts["lr_source"],
        "metrics": _csv_list(opts["metrics"]) or None,
        "colour": opts["colour"],
        "grayscale": opts["grayscale"],
        "lpips_net": opts["lpips_net"],
        "lpips_weights": opts["lpips_weights"],
        "data_dir": str(opts["data_dir"]) if opts["data_dir"] else None,
        "tile": opts["tile"],
        "compare": _csv_list(opts["compare"]) or None,
        "crop_box": _crop_box(opts["crop_box"]),
    }
    if opts["weights"]:
        flags["weights"] = key_values(opts["weights"], "MODEL=PATH", param_hint="--weights")
    if opts["no_throughput"]:
        flags["throughput"] = False
    if opts.get("throughput_sizes") is not None:
        try:
            flags["throughput_sizes"] = tuple(int(x) for x in _csv_list(opts["throughput_sizes"]))
        except ValueError:
            raise click.BadParameter(f"give square LR sizes, comma-separated, got {opts['throughput_sizes']!r}",
                                     param_hint="--throughput-sizes") from None
        if not flags["throughput_sizes"]:
            raise click.BadParameter("names no size", param_hint="--throughput-sizes")
    if opts.get("time_budget") is not None:
        flags["time_budget"] = opts["time_budget"]
    if opts.get("workers") is not None:
        flags["workers"] = opts["workers"]
    if opts.get("max_memory") is not None:
        flags["max_memory"] = _bytes(opts["max_memory"])
    base.update({k: v for k, v in flags.items() if v is not None})
    if opts.get("max_pixels") is not None:
        base["max_pixels"] = opts["max_pixels"] or None  # 0: no limit
    return RunConfig.from_json(base)


def _bytes(text: str) -> int:
    """``8G`` / ``512M`` / ``1000`` -> bytes (binary units); a usage error otherwise."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (s[:-1], s[-1]) if s[-1:] in units and s[-1:] else (s, "")
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise click.BadParameter(f"{text!r} is not a size (e.g. 8G, 512M, 0)", param_hint="--max-memory") from None
    if value < 0:
        raise click.BadParameter(f"{text!r} is negative", param_hint="--max-memory")
    return int(value)


def _resume_config(opts: dict[str, Any]) -> Any:
    """The recorded config of ``--resume DIR``. A flag that would change it (``-m X``, ``-s 2``...) is
    refused with a usage error, so that a resumed run never mixes two configs; ``--no-throughput``
    applies (it changes no result)."""
    run_dir = opts["resume_dir"]
    try:
        recorded = recorded_config(read_run_json(run_dir).get("config") or {})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{run_dir / 'run.json'}: its config is not valid ({exc})") from None
    if opts["config_file"] or opts["out"]:
        which = "--config" if opts["config_file"] else "--out"
        raise click.UsageError(f"{which} cannot be combined with --resume {run_dir} (the run keeps its directory "
                               "and recorded config)")
    given = _run_config({**opts, "config_file": None})
    defaults = RunConfig.from_json({})
    changed = {key: getattr(given, key) for key in RunConfig.__dataclass_fields__
               if getattr(given, key) != getattr(defaults, key) or _flag_given(opts, key)}  # given on the command line
    conflicts = resume_conflicts(recorded, dataclasses.replace(recorded, **changed))
    if conflicts:
        raise click.UsageError(f"--resume {run_dir} continues the recorded run, but the flags change it "
                               f"({describe_conflicts(conflicts, 'flags say')}). Drop those flags, or start a new run "
                               "with --out")
    return dataclasses.replace(recorded, **changed)


_FLAG_OF = {"models": "models", "datasets": "datasets", "scales": "scale", "device": "device", "lr_source": "lr_source",
            "metrics": "metrics", "colour": "colour", "grayscale": "grayscale", "lpips_net": "lpips_net",
            "lpips_weights": "lpips_weights", "data_dir": "data_dir", "weights": "weights", "tile": "tile",
            "compare": "compare",
            "crop_box": "crop_box", "throughput": "no_throughput", "max_pixels": "max_pixels",
            "throughput_sizes": "throughput_sizes", "time_budget": "time_budget",
            "workers": "workers", "max_memory": "max_memory"}


def _flag_given(opts: dict[str, Any], key: str) -> bool:
    flag = _FLAG_OF.get(key)
    return flag is not None and opts.get(flag) not in (None, (), False, "")


def _crop_box(text: str | None) -> tuple[int, int, int, int] | None:
    if not text:
        return None
    parts = _csv_list(text)
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"--crop-box expects X,Y,W,H integers, got {text!r}") from None
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise click.BadParameter(f"{text!r}: X and Y must be >= 0 and W, H > 0 (HR pixels)", param_hint="--crop-box")
    return (x, y, w, h)


def _check_run(config: Any) -> None:
    """Usage errors (exit 2) that the run would otherwise find late, or not at all: unknown models, weights
    for a model that is not run, an impossible device, missing LPIPS weights, unknown --compare ids; and
    a per-image warning where --crop-box does not fit a comparison image."""
    for _, spec in config.labelled_models:
        resolve(spec)  # ModelError: the known models and a did-you-mean (exit 2)
    named = {n for pair in config.labelled_models for n in pair}  # --weights LABEL=PATH or SPEC=PATH
    for name, _ in config.weights:
        if name in named:
            continue
        try:
            resolve(name)
        except ModelError as exc:
            raise click.BadParameter(f"{name}=...: {exc}", param_hint="--weights") from None
        raise click.BadParameter(f"{name}=...: {name!r} is not among the models of this run "
                                 f"({', '.join(config.models)}); its weights would be ignored", param_hint="--weights")
    check_device(config.device)
    lw = config.lpips_weights
    if "lpips" in config.metrics and lw not in (None, "random") and not Path(lw).is_file():
        raise click.BadParameter(f"LPIPS backbone weights {lw} not found (LPIPS is among the metrics)",
                                 param_hint="--lpips-weights")
    if config.compare is None and config.crop_box is None:
        return
    from srbench.data.sources import resolve_dataset  # deferred: it imports PIL

    sources = []
    for spec in config.datasets:
        try:
            sources.append(resolve_dataset(spec, data_dir=config.data_dir, download=False))
        except Exception:  # not local yet (the run fetches it) or broken (the run reports it): no check here
            return
    ids = {im.id for src in sources for im in src.images}
    unknown = [i for i in config.compare or () if i not in ids]
    if unknown:
        shown = ", ".join(sorted(ids)[:12]) + (", ..." if len(ids) > 12 else "")
        raise click.BadParameter(f"no image {', '.join(map(repr, unknown))} in {', '.join(config.datasets)} "
                                 f"(image ids: {shown})", param_hint="--compare")
    if config.crop_box is not None:
        x, y, w, h = config.crop_box
        for src in sources:
            picks = (set(config.compare) if config.compare
                     else set(sorted(im.id for im in src.images)[: config.n_compare]))
            for im in src.images:
                if im.id not in picks:
                    continue
                height, width = im.load().shape[:2]
                for sc in config.scales:
                    mh, mw = height - height % sc, width - width % sc
                    if x + w > mw or y + h > mh:
                        click.secho(f"warning: --crop-box {x},{y},{w},{h} lies outside {src.name}/{im.id} at x{sc} "
                                    f"({mw}x{mh} HR pixels): its comparison crop is picked automatically",
                                    fg="yellow", err=True)


def _print_summary(outcome: Any) -> None:
    """The run's summary table, demo-weight notes and throughput, from what the run returned."""
    import pandas as pd


    df = summary_frame(outcome.summary)
    if df.empty:
        click.echo("no results")
        return
    table = df.pivot_table(index=["dataset", "scale", "model"], columns="metric", values="value", sort=False)
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        click.echo(table.to_string())
    for name, info in outcome.models.items():
        if info.demo:
            click.secho(f"{name}: {info.description or 'DEMO weights, not the paper s'}", fg="yellow")
    if outcome.throughput is not None and len(outcome.throughput):
        click.echo("\nthroughput")
        click.echo(summary_table(outcome.throughput))


# ----------------------------------------------------------------------------------------------- datasets


@cli.group()
def datasets() -> None:
    """List, download and export datasets."""


@datasets.command("list")
@data_dir_option("Also look here (first) for local copies. Also $SRBENCH_DATA_DIR.")
def datasets_list(data_dir: Path | None) -> None:
    """List the datasets srbench knows, how each is verified, and which are on this machine and where
    (--data-dir, then $SRBENCH_DATA_DIR, then the download cache: the order `srbench run` looks in)."""
    from srbench.data.local import data_roots, find_local  # deferred: it imports PIL
    from srbench.data.sources import SAMPLES  # deferred: it imports PIL

    click.echo(f"{'samples':<12} {'(built in)':<12} {'benchmark':<9} {len(SAMPLES):>4} images  offline, scikit-image")
    for m in list_manifests():
        check = "pixel hashes" if m.hr else ("image ids" if m.ids else "image count")
        copy = find_local(m, data_dir)
        if copy is None:
            here = "  not here (fetched on first use)"
        else:
            state = "verified" if copy.verified else "not verified by fetch"
            here = f"  present: {copy.hr_dir} ({copy.n_images} images, {state}; {copy.root})"
        click.echo(f"{m.name:<12} {m.folder:<12} {m.kind:<9} {m.count:>4} images  archive hash + {check}{here}")
    click.echo(f"{'folder:PATH':<12} any folder of HR images (or one with HR/ and LR_bicubic/X<s>/)")
    for label, root in data_roots(data_dir):
        click.echo(f"data dir ({label}): {root}" + ("" if root.is_dir() else " (does not exist yet)"))


@datasets.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--official-lr", is_flag=True,
              help="Also fetch the official MATLAB-made LR (to check srbench's imresize).")
@data_dir_option("Root folder (default: $SRBENCH_DATA_DIR or the user cache).")
@progress_option()
@library_errors()
def datasets_fetch(names: tuple[str, ...], official_lr: bool, data_dir: Path | None, no_progress: bool) -> None:
    """Download, extract and verify NAMES (e.g. set5 set14 b100) into the data dir."""
    for name in names:
        path = fetch(name, root=data_dir, official_lr=official_lr, progress=not no_progress)
        click.echo(f"{name}: {path}")


@datasets.command("export")
@click.argument("name")
@click.option("--scale", "-s", type=click.IntRange(min=1), required=True, help="Scale factor.")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@data_dir_option("Local folder in the benchmark layout.")
@click.option("--max-pixels", type=click.IntRange(min=0), default=None,
              help="Refuse HR images with more pixels (checked from the header); 0: no limit [default: 40000000].")
@library_errors()
def datasets_export(name: str, scale: int, out: Path, data_dir: Path | None, max_pixels: int | None) -> None:
    """Write modcropped HR and srbench's MATLAB-bicubic LR in the benchmark layout, for other tools.

    Layout: OUT/HR/<name>.png and OUT/LR_bicubic/X<S>/<name>x<S>.png.
    """
    from srbench.data.sources import export_dataset  # deferred: it imports PIL

    limit = DEFAULT_MAX_PIXELS if max_pixels is None else (max_pixels or None)
    n, errors = export_dataset(name, scale, out, data_dir=data_dir, max_pixels=limit)
    for e in errors:
        click.secho(f"error: {e}", fg="red", err=True)
    click.echo(f"exported {n} images to {out}")
    sys.exit(1 if errors else 0)


# ------------------------------------------------------------------------------------------------- models


@cli.group()
def models() -> None:
    """Model adapters."""


@models.command("list")
@click.option("--options", "with_options", is_flag=True,
              help="Also the options each KIND:PATH kind takes after '?' (imports each kind's module).")
def models_list(with_options: bool) -> None:
    """List the registered models (built-ins and `srbench.models` entry points) without importing them."""
    for name, desc in describe_models().items():
        click.echo(f"{name:<16} {desc}")

    for kind, (target, desc) in sorted(PATH_KINDS.items()):
        click.echo(f"{kind + ':PATH':<16} {desc}")
        if with_options:
            for option, text in kind_options(target).items():
                click.echo(f"{'':<18}?{option}=  {text}")


@models.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@click.option("--probe", is_flag=True,
              help="Also run the model on a built-in sample in each input convention (range [0, 1] / [0, 255], "
                   "RGB / BGR) and say which matches bicubic best.")
@click.option("--scale", "probe_scale", type=click.IntRange(min=2), default=None,
              help="The scale of --probe [default: the file's, else 4].")
def models_inspect(path: Path, as_json: bool, probe: bool, probe_scale: int | None) -> None:
    """What srbench detects in a model file (.pth/.pt/.ckpt/.safetensors, or .onnx), without running it:
    architecture, scale, parameters, channels, input-size requirements, dtype, checkpoint wrapper. For a
    Keras file or folder (.keras, .h5, .weights.h5, SavedModel, tf.train.Checkpoint): the form, the
    architecture and the command that evaluates it."""
    from srbench.models.keras.seedfile import form_of  # deferred: it imports h5py

    keras = form_of(path) is not None  # .keras, .h5, .weights.h5, SavedModel or checkpoint folder
    try:
        if keras:
            from srbench.models.keras.seedfile import describe  # deferred: h5py, tensorflow
        elif path.suffix.lower() == ".onnx":
            from srbench.models.files.onnx import describe  # deferred: onnx is an optional extra
        else:
            from srbench.models.files.checkpoint import describe  # deferred: it imports safetensors, torch, tqdm
        facts = describe(path)
    except SRBenchError as exc:
        _inspect_failed(path, exc, as_json)
        return
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    if keras:
        for key in ("file", "sha256", "form", "architecture", "scale", "n_blocks", "params", "details", "command"):
            if facts.get(key) is not None:
                click.echo(f"{key.replace('_', ' '):<18} {facts[key]}")
        return
    req = facts.get("size_requirements") or {}
    needs = ", ".join(f"{k} {v}" for k, v in req.items() if v not in (0, 1, False)) or "none"
    lines = [("file", facts["file"]), ("sha256", facts["sha256"]), ("architecture", facts["architecture"]),
             ("scale", f"x{facts['scale']}"), ("parameters", f"{facts['params']:,}" if facts["params"] is not None
                                                else "unknown"),
             ("channels", f"{facts['input_channels']} in, {facts['output_channels']} out"),
             ("size requirements", needs), ("dtype", facts["weights_dtype"])]
    lines += [(k.replace("_", " "), facts[k]) for k in ("checkpoint_wrapper", "tags", "input_shape", "opset")
              if facts.get(k)]
    for key, value in lines:
        click.echo(f"{key:<18} {value}")
    if probe:
        _probe(path, facts, probe_scale)


def _probe(path: Path, facts: dict[str, Any], scale: int | None) -> None:
    """`models inspect --probe`: the model on a built-in sample in each input convention, against bicubic."""
    from srbench.data.sources import make_pair, resolve_dataset  # deferred: it imports PIL
    from srbench.pipeline import probe_conventions  # deferred: it imports torch
    from srbench.registry import get_model  # deferred with the probe's torch imports

    kind = "onnx" if path.suffix.lower() == ".onnx" else "file"
    scale = scale or (int(facts["scale"]) if (facts.get("scale") or 1) > 1 else 4)
    image = resolve_dataset("samples").images[0]
    psnr = probe_conventions(get_model(f"{kind}:{path}", scale), make_pair(image, scale))
    click.echo(f"probe on the built-in sample {image.id!r} at x{scale} (PSNR, MATLAB Y):")
    for name, value in psnr.items():
        click.echo(f"  {name:<18} {value:8.3f}")
    best = max((k for k in psnr if k != "bicubic"), key=lambda k: -1e9 if psnr[k] != psnr[k] else psnr[k])
    if psnr[best] < psnr["bicubic"] - 3:
        click.echo(f"best: {best} ({psnr[best]:.3f} dB), still far below bicubic: not a convention mismatch "
                   "(a broken file, a Y-only network given RGB, or another scale?)")
    else:
        click.echo(f"best: {best} ({psnr[best]:.3f} dB)" + ("" if best == "RGB in [0, 1]" else
                   ": run the network with that convention (py: or onnx: options input_range=255, "
                   "channel_order=bgr)"))


def _inspect_failed(path: Path, exc: SRBenchError, as_json: bool) -> None:
    """`models inspect` of a file it cannot describe: a sentence (exit 2), or with --json the same as JSON."""
    if as_json:
        click.echo(json.dumps({"file": str(path), "error": plain(str(exc))}, indent=2))
        sys.exit(2)
    _fail(str(exc))


# ------------------------------------------------------------------------------------------------- bench


@cli.command()
@click.option("--models", "-m", default="bicubic,srresnet", show_default=True, help="Comma-separated model names.")
@scales_option()
@click.option("--sizes", default="64,128,256", show_default=True,
              help="LR sizes to time: N (square) or HxW, comma-separated.")
@click.option("--datasets", "-d", default=None, help="Also time over these datasets' real LR images (batch 1).")
@data_dir_option("Folder holding the datasets.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--dtype", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp32", show_default=True,
              help="fp16/bf16 run under autocast (the fused plan runs in that dtype).")
@click.option("--batch", type=int, default=1, show_default=True, help="Images per forward pass.")
@click.option("--batch-sweep", default=None, metavar="B1,B2,...",
              help="Also a throughput-vs-batch sweep at the first size.")
@click.option("--channels-last", is_flag=True, help="NHWC memory format for model and input.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model (CPU: inductor freezing).")
@click.option("--fused", is_flag=True, help="SRResNet/SRGAN: the fused inference plan (srbench.models.archs.fused).")
@click.option("--warmup", type=click.IntRange(min=0), default=None,
              help="Untimed calls first [default: until two consecutive calls agree within 10%, at most 10].")
@click.option("--iters", type=click.IntRange(min=1), default=None,
              help="Timed calls [default: until the median's 95% CI is within 2%, or --time-budget is spent].")
@click.option("--time-budget", type=click.FloatRange(min=0), default=2.0, show_default=True, metavar="SECONDS",
              help="Seconds per timed cell (a size, or a dataset's images), at least 3 calls.")
@weights_option()
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write OUT/throughput.csv.")
@library_errors()
def bench(**opts: Any) -> None:
    """Time models: ms/image (median, p90), images/s, output MP/s, parameters, GFLOPs at a 256x256 LR
    input, peak memory, and achieved FLOP/s as a fraction of the device's physical compute peak (FMA
    microkernel / AMX / cuBLAS GEMM) or of its memory bandwidth, measured in the same run (and checked in
    short bursts before and after each model: "busy" when the machine was). Forward pass only, input
    already on the device, warm-up excluded; CUDA events on GPU. Each cell is timed until the median's 95%
    confidence interval is within 2% or --time-budget is spent; the interval and the calls are printed.
    """
    check_device(opts["device"])

    try:
        sizes = []
        for part in _csv_list(opts["sizes"]):
            h, _, w = part.lower().partition("x")
            sizes.append((int(h), int(w or h)))
        sweep = tuple(int(b) for b in _csv_list(opts["batch_sweep"]))
    except ValueError:
        raise click.BadParameter(f"sizes must be N or HxW and --batch-sweep integers, got {opts['sizes']!r}, "
                                 f"{opts['batch_sweep']!r}") from None
    scales = _scales(opts["scale"]) or (4,)
    weights = key_values(opts["weights"], "MODEL=PATH", param_hint="--weights")
    images = []
    if opts["datasets"]:
        from srbench.data.sources import make_pair, resolve_dataset  # deferred: it imports PIL

        for spec in _csv_list(opts["datasets"]):
            src = resolve_dataset(spec, data_dir=opts["data_dir"])
            for s in scales:
                images.append(TimingImages(src.name, s, tuple(make_pair(im, s).lr for im in src.images)))
    options = BenchOptions(
        sizes=tuple(sizes), batch=opts["batch"], dtype=opts["dtype"], device=opts["device"],
        channels_last=opts["channels_last"], compile=opts["compile_"], fused=opts["fused"],
        warmup=opts["warmup"], iters=opts["iters"], budget_s=opts["time_budget"], batches=sweep)
    jobs = jobs_for(_csv_list(opts["models"]), scales, {m: {"weights": p} for m, p in weights.items()})
    result = run_bench(jobs, options, images=images, out_dir=opts["out"])
    click.echo(summary_table(result.frame, result.roofline.record() if result.roofline else None))
    for err in result.errors:
        click.secho(f"warning: {err}", fg="yellow", err=True)
    if opts["out"]:
        click.echo(f"throughput: {Path(opts['out']) / 'throughput.csv'}")


# ------------------------------------------------------------------------------- table, check, baseline, report


def _tolerances(items: tuple[str, ...]) -> dict[str, float]:
    form = "METRIC=NUMBER, e.g. psnr=0.1"
    out: dict[str, float] = {}
    for item in items:
        key, value = key_value(item, form)
        try:
            out[key.lower()] = float(value)
        except ValueError:
            raise click.BadParameter(f"expected {form}, got {item!r}") from None
    return out


_RUN_DIR = click.Path(file_okay=False, exists=True, path_type=Path)


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=_RUN_DIR)
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "csv"]), default="markdown", show_default=True)
@click.option("--transpose", is_flag=True, help="Models as rows, (dataset, metric) as columns.")
@click.option("--published", is_flag=True, help="Add the paper numbers of baselines/published.csv beside srbench's.")
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only this published source (repeatable): 'SRGAN T2', 'SRGAN T1', MATLAB, SPSR, 'PyTorch repro'.")
@click.option("--metrics", default="psnr,ssim", show_default=True, help="Comma-separated metrics (the rows).")
@click.option("--scale", "-s", type=int, default=None, help="Only this scale [default: all].")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@click.option("--label", "labels", multiple=True, metavar="RUN=NAME",
              help="Name a run (repeatable); RUN is the directory as given, its folder name or its run id. A "
                   "model in several runs is shown as 'model [NAME]'.")
@click.option("--ci", is_flag=True, help="Add each model's difference to the reference (bicubic) with its 95%% "
                                         "paired bootstrap interval; n.s. where it contains 0.")
@library_errors(FileNotFoundError)
def table(run_dirs: tuple[Path, ...], fmt: str, transpose: bool, published: bool, sources: tuple[str, ...],
          metrics: str, scale: int | None, output: Path | None, labels: tuple[str, ...], ci: bool) -> None:
    """Render runs as a paper table: the SRGAN paper's Table 2 layout (datasets as row groups, metrics as
    rows, models as columns), best values in bold, demo weights marked with a dagger, a metric a run lacks
    shown as a dash with a footnote; LaTeX needs \\usepackage{booktabs}."""
    from srbench.report.tables import render_table  # deferred: it imports pandas

    names = key_values(labels, "RUN=NAME", param_hint="--label")
    text = render_table(list(run_dirs), fmt=fmt, transpose=transpose, published=published,
                        metrics=_csv_list(metrics), scale=scale, sources=sources or None, labels=names, ci=ci)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"table: {output}")


@cli.command()
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--baseline", "-b", "baseline_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Baseline file written by `srbench baseline save` or `srbench run --bless`.")
@click.option("--tolerance", "-t", "tolerances", multiple=True, metavar="METRIC=VALUE",
              help="Override a tolerance (repeatable), e.g. -t psnr=0.1. Defaults: psnr 0.05 dB, ssim 0.001, "
                   "lpips 0.005, or the baseline file's.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write JUnit XML here.")
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also append a Markdown summary here (e.g. \"$GITHUB_STEP_SUMMARY\").")
@click.option("--paired", is_flag=True,
              help="Fail only on significant regressions: beyond the tolerance and with a 95% paired bootstrap "
                   "interval over the images that excludes 0 (needs a baseline saved with per-image values).")
@click.option("--format", "fmt", type=click.Choice(["text", "github"]), default="text", show_default=True,
              help="github: also print GitHub Actions annotations (::error/::warning) and append the Markdown "
                   "summary to $GITHUB_STEP_SUMMARY when it is set.")
@library_errors()
def check(run_dir: Path, baseline_file: Path, tolerances: tuple[str, ...], junit: Path | None,
          markdown: Path | None, paired: bool, fmt: str) -> None:
    """Compare a run with a baseline, per model, dataset, scale and metric, in each metric's direction.

    Exit 0: pass (improvements pass too); 1: a value is worse than the baseline by more than its
    tolerance (with --paired: and significantly so); 2: cannot compare (missing model/dataset/scale/metric,
    different image count, or a protocol mismatch such as crop, colour space, LR source, LPIPS net/version).
    Regressions are listed first.
    """
    result = run_check(run_dir, baseline_file, tolerances=_tolerances(tolerances), paired=paired)
    if fmt == "github":
        click.echo(result.to_github(), nl=False)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary and Path(summary) != markdown:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(result.to_markdown())
    click.echo(result.to_text(), nl=False)
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(result.to_junit_xml(), encoding="utf-8")
    if markdown is not None:
        with markdown.open("a", encoding="utf-8") as f:
            f.write(result.to_markdown())
    sys.exit(result.status)


@cli.group()
def baseline() -> None:
    """Regression baselines for `srbench check`."""


@baseline.command("save")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Baseline file [default: baselines/<models>_<datasets>_x<scales>.json].")
@click.option("--tolerance", "-t", "tolerances", multiple=True, metavar="METRIC=VALUE",
              help="Tolerance stored in the baseline (repeatable), e.g. -t psnr=0.1.")
@library_errors()
def baseline_save(run_dir: Path, out: Path | None, tolerances: tuple[str, ...]) -> None:
    """Bless a complete run: save its summary, protocol and tolerances as a baseline file."""
    path = save_baseline(run_dir, out or default_baseline_path(run_dir), tolerances=_tolerances(tolerances))
    click.echo(f"baseline: {path}")


@cli.command()
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--crop-box", default=None, metavar="X,Y,W,H", help="Region (HR pixels) of the zoomed comparison crops.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file [default: RUN_DIR/report.html].")
@library_errors()
def report(run_dir: Path, crop_box: str | None, out: Path | None) -> None:
    """(Re)write a run's self-contained report.html, e.g. with another crop region."""
    from srbench.report.html import write_report  # deferred: it imports pandas

    click.echo(f"report: {write_report(run_dir, out=out, crop_box=crop_box)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(as_json: bool) -> None:
    """List the optional weights and extras srbench can use (LPIPS backbones, NIQE model, VGG19 for
    training, tensorflow, onnxruntime, spandrel, numba, CUDA): present or not, and where each is looked for."""
    findings = diagnose()
    if as_json:
        click.echo(json.dumps([f.to_json() for f in findings], indent=2))
    else:
        click.echo(render(findings))


@cli.command()
@click.argument("src", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
def convert(src: Path, dst: Path) -> None:
    """Convert the Keras SRGAN seed generator's weights to PyTorch or back; the suffixes say which way.

    SRC.h5 or SRC.keras -> DST.safetensors (for `--models seed-srgan`), or SRC.safetensors -> DST.h5 (loads
    with the seed scripts' `load_weights` and `--models keras-srgan`) or DST.keras (a whole model, for
    `--models keras:DST.keras`). Exact: kernels HWIO <-> OIHW, depth_to_space <-> PixelShuffle channel
    order, BN statistics, per-channel PReLU slopes. Needs h5py; .keras needs TensorFlow (srbench[tensorflow]).
    """
    from srbench.models.keras.command import convert_file  # deferred: it imports safetensors, torch, tqdm

    try:
        layout = convert_file(src, dst)
    except SRBenchError as exc:
        _fail(str(exc))
        return
    click.echo(f"{src} -> {dst}: seed SRGAN generator x{layout.scale}, {layout.n_blocks} residual blocks")


cli.add_command(train_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
