"""The training loop for SRResNet-MSE and SRGAN (docs/protocol.md, "Training recipe"), single process or DDP.

The step itself is :class:`srbench.training.step.StepRunner` (shared with the benchmarks). This module
adds data, schedule, validation, logging, checkpoints, Ctrl-C and NaN handling.

DDP (launched by ``torchrun``): each rank takes a disjoint slice of the same global batch (see
:mod:`srbench.training.data`), gradients are averaged by DistributedDataParallel, logged losses are
averaged over ranks, rank 0 validates, logs and writes checkpoints. BN statistics are per rank (as with
plain DDP everywhere), so DDP curves match a single process within a tolerance, not bitwise.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from srbench.console import SEP, Console, format_duration, format_value
from srbench.data.io import write_image
from srbench.distributed import init_from_env, shutdown, torchrun_ranks
from srbench.interfaces import SRBenchError
from srbench.metrics import psnr, ssim
from srbench.models.weights import read_weights
from srbench.perf import memory
from srbench.pipeline import quantise, to_tensor
from srbench.rundir.common import LOCK_FILE, RunDirInUse
from srbench.rundir.lock import RunLock
from srbench.training import checkpoints as ckpt
from srbench.training.config import TrainConfig
from srbench.training.data import StepBatches, load_pairs, make_loader, resolve_hr_files
from srbench.training.step import StepRunner, build_networks, make_optimizer

LOG_COLUMNS = ("step", "time_s", "lr", "loss_g", "content", "adv", "loss_d", "val_psnr", "val_ssim")


class TrainingInterrupted(SRBenchError):
    """SIGINT/SIGTERM: the step in flight finished and ``last`` was saved. CLIs exit with 130."""
    def __init__(self, checkpoint: Path, step: int) -> None:
        self.checkpoint, self.step = checkpoint, step
        super().__init__(f"training interrupted at step {step}; checkpoint saved to {checkpoint} "
                         f"(continue with --resume)")


class TrainingDiverged(SRBenchError):
    """A loss became NaN/inf. Nothing was saved after it; the last good checkpoint is kept."""


# --------------------------------------------------------------------------------------------------- setup

def _device(cfg: TrainConfig, local_rank: int, world: int) -> torch.device:
    name = cfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", local_rank)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SRBenchError(f"device {cfg.device!r} asked for, but CUDA is not available")
        torch.cuda.set_device(dev)
    return dev


def lr_at(cfg: TrainConfig, step: int) -> float:
    """The paper's schedule as a pure function of the step (no scheduler state to save)."""
    if cfg.lr_decay_step is not None and step >= cfg.lr_decay_step:
        return cfg.lr * cfg.lr_decay_factor
    return cfg.lr


class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop finishes the step in flight, saves and stops."""
    def __init__(self) -> None:
        self.stop = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handler (the caller handles interrupts)
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop:  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


# ------------------------------------------------------------------------------------------------ validation

def load_validation(cfg: TrainConfig) -> list[Any]:
    if cfg.val_data is None:
        return []
    from srbench.data.sources import make_pair, resolve_dataset  # deferred: it imports PIL

    spec = f"folder:{cfg.val_data}" if os.path.isdir(cfg.val_data) else cfg.val_data
    source = resolve_dataset(spec, data_dir=cfg.data_dir)
    images = source.images[: cfg.val_max_images] if cfg.val_max_images else source.images
    return [make_pair(im, cfg.scale) for im in images]


@torch.no_grad()
def validate(net: nn.Module, pairs: list[Any], scale: int, device: torch.device, sample_dir: Path | None,
             n_samples: int, step: int) -> tuple[float, float]:
    """Mean PSNR / SSIM (Y channel, crop = scale) through srbench.metrics, on output quantised to 8 bits by
    srbench's one per-image core (:mod:`srbench.pipeline`: the input tensor and the quantiser of ``srbench run``)."""
    was_training = net.training
    net.eval()
    ps, ss = [], []
    try:
        for i, pair in enumerate(pairs):
            sr01 = (net(to_tensor(pair.lr, device)).float() + 1.0) * 0.5  # tanh range -> [0, 1], as the adapters do
            sr_u8 = quantise(sr01, pair.hr.shape[2])  # (C, H, W)
            hr = np.ascontiguousarray(np.asarray(pair.hr).transpose(2, 0, 1))
            ps.append(psnr(sr_u8, hr, crop_border=scale))
            ss.append(ssim(sr_u8, hr, crop_border=scale))
            if sample_dir is not None and i < n_samples:
                write_image(sample_dir / f"step{step:08d}_{pair.id}.png", sr_u8.transpose(1, 2, 0))
    finally:
        net.train(was_training)
    return float(np.mean(ps)), float(np.mean(ss))


# ------------------------------------------------------------------------------------------------- the loop

class _CSVLog:
    """log.csv of the run; on resume, rows after the resumed step are dropped (they will be redone)."""
    def __init__(self, path: Path, start: int) -> None:
        self.path = path
        rows: list[dict[str, str]] = []
        if start > 0 and path.is_file():
            with open(path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= start]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, LOG_COLUMNS)
            w.writeheader()
            w.writerows(rows)

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, LOG_COLUMNS).writerow({k: row.get(k, "") for k in LOG_COLUMNS})


# ------------------------------------------------------------------------------------------------- console

_LOSS_NAMES = {"content": "content", "adv": "adv", "loss_d": "d"}  # loss_g = content + adv_weight * adv


def format_lr(lr: float) -> str:
    """``1e-4``, ``1.5e-5``: the learning rate as papers write it."""
    mantissa, _, exponent = f"{lr:.2e}".partition("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def step_line(step: int, steps: int | None, lr: float, losses: dict[str, float], seconds_per_step: float) -> str:
    """The plain log line of a step, BasicSR-style:
    ``[step 1200/100000] lr 1e-4 · content 0.0123 · d 0.6100 · 0.42 s/step · eta 11:40:02``."""
    parts = [f"[step {step}/{steps}] lr {format_lr(lr)}"]
    parts += [f"{short} {format_value(losses[key])}" for key, short in _LOSS_NAMES.items() if key in losses]
    parts.append(f"{seconds_per_step:.3g} s/step")
    if steps is not None and steps > step:
        parts.append(f"eta {format_duration(seconds_per_step * (steps - step))}")
    return SEP.join(parts)


def _scalar_writer(folder: Path, console: Console) -> Any:
    """TensorBoard scalars through :class:`.events.ScalarWriter` (never TensorFlow); a missing
    ``tensorboard`` package is a warning, not a failed training."""
    try:
        from srbench.training.events import ScalarWriter  # deferred: tensorboard is optional here

        return ScalarWriter(folder)
    except ImportError as exc:
        console.say(f"warning: no TensorBoard events ({exc}); install tensorboard, or --set tensorboard=false")
        return None


def _best_validation(log_csv: Path, up_to: int | None = None) -> tuple[int, float, float] | None:
    """(step, PSNR, SSIM) of the first best validation PSNR in log.csv (the ``best`` checkpoint's), rows up
    to step ``up_to``; None without a validation."""
    best: tuple[int, float, float] | None = None
    try:
        with open(log_csv, newline="") as f:
            for row in csv.DictReader(f):
                if not row.get("val_psnr") or (up_to is not None and int(row["step"]) > up_to):
                    continue
                p = float(row["val_psnr"])
                if best is None or p > best[1]:
                    best = (int(row["step"]), p, float(row.get("val_ssim") or "nan"))
    except (OSError, ValueError, KeyError):
        return None
    return best


def final_summary(run_dir: Path, config: TrainConfig) -> list[str]:
    """What a finished training prints: the best validation and its step, the best/last checkpoints, and
    the ``srbench run`` command that evaluates it with the benchmark protocol."""
    import shlex

    lines = [f"done: {run_dir}"]
    best = _best_validation(run_dir / "log.csv")
    last_step = None
    with contextlib.suppress(OSError, ValueError, KeyError):
        with open(run_dir / "log.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        if rows:
            last_step = int(rows[-1]["step"])
            lines[0] += f" ({last_step} steps, {format_duration(float(rows[-1]['time_s']))} of training)"
    if best is not None:
        lines.append(f"best validation on {config.val_data}: psnr {best[1]:.4f} dB{SEP}ssim {best[2]:.4f} "
                     f"at step {best[0]}")
    elif config.val_data is None:
        lines.append("no validation (val none): the best checkpoint is not chosen; evaluate the last one")
    weights = None
    for tag in ("best", "last"):
        path = ckpt.paths(run_dir, tag)[0]
        if path.is_file():
            step = best[0] if tag == "best" and best else last_step if tag == "last" else None
            lines.append(f"{tag + ':':<5} {path}" + (f" (step {step})" if step is not None else ""))
            weights = weights or path
    if weights is not None:
        cmd = ["srbench", "run", "-m", config.model, "--weights", f"{config.model}={weights}",
               "-d", "set5,set14,b100", "-s", str(config.scale)]
        if config.data_dir:
            cmd += ["--data-dir", config.data_dir]
        lines.append(f"evaluate it: {shlex.join(cmd)}")
    return lines


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _finite(*values: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in values)


def train(config: TrainConfig, *, on_step: Callable[[int, dict[str, float]], None] | None = None,
          console: Console | None = None) -> Path:
    """Train SRResNet-MSE or SRGAN as ``config`` says; returns the run folder.

    The run folder holds the ``last`` checkpoint (every ``ckpt_every`` steps, at the end and on Ctrl-C) and
    ``best`` (by validation PSNR), each committed atomically under ``checkpoints/`` with the previous one kept
    as a fallback and published as ``<tag>.safetensors``/``<tag>.state.pt`` (see :mod:`.checkpoints`),
    ``log.csv``, ``config.json``, ``samples/`` and ``tb/``.
    ``on_step(step, losses)`` is called after every completed step (tests use it to inject interrupts).
    ``console`` (rank 0's; default: bars on a terminal when ``config.progress``, else plain lines) shows the
    progress: a bar, or a step line every ``log_every`` steps (:func:`step_line`), and each validation.
    The run folder's lock (:class:`srbench.rundir.lock.RunLock`, as ``srbench run``) is held throughout.
    Raises TrainingInterrupted (SIGINT/SIGTERM, after saving), TrainingDiverged (NaN loss), VGGWeightsMissing,
    RunDirInUse (another training or run holds the folder).
    """
    _, world, local_rank = torchrun_ranks()
    device = _device(config, local_rank, world)
    if config.threads:
        torch.set_num_threads(config.threads)
    dist = init_from_env(str(device))  # the same process-group set-up as `srbench run` under torchrun
    try:
        with _run_lock(config.run_dir(), dist.is_main, dist.world_size > 1, device):
            return _train(config, dist.rank, dist.world_size, device, on_step, console)
    finally:
        shutdown(dist)


@contextlib.contextmanager
def _run_lock(run_dir: Path, main: bool, distributed: bool, device: torch.device) -> Iterator[None]:
    """Hold the run directory's lock (the one ``srbench run`` takes) for the whole training, on rank 0.

    Taken before anything in the folder is read or written: a second training, or a --resume into a
    running one, is refused with RunDirInUse naming the folder (the CLI exits 2), instead of both
    committing and pruning each other's checkpoints. Under DDP every rank learns of a refusal, so none
    waits for rank 0 in a collective. A folder this call created and left empty is removed again.
    """
    created = not run_dir.exists()
    lock: RunLock | None = None
    problem: SRBenchError | None = None
    if main:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            lock = RunLock(run_dir).acquire()
        except RunDirInUse:
            pid = _lock_holder(run_dir)
            problem = RunDirInUse(f"{run_dir} is in use by PID {pid} (another `srbench train`, a --resume "
                                  "or a `srbench run` into it): wait for it to finish or choose another --out")
        except (OSError, SRBenchError) as exc:
            problem = SRBenchError(f"{run_dir}: cannot lock the run folder ({exc})")
    if distributed:
        flag = torch.tensor([1.0 if problem is not None else 0.0], device=device)
        torch.distributed.all_reduce(flag)
        if problem is None and flag.item() > 0:
            problem = SRBenchError(f"{run_dir}: rank 0 could not take the run folder's lock")
    if problem is not None:
        raise problem
    try:
        yield
    finally:
        if lock is not None:
            lock.release()
            if created:
                with contextlib.suppress(OSError):
                    run_dir.rmdir()  # only if empty: a training that failed before writing anything


def _lock_holder(run_dir: Path) -> str:
    try:
        return (run_dir / LOCK_FILE).read_text().strip() or "?"
    except OSError:
        return "?"


def _train(cfg: TrainConfig, rank: int, world: int, device: torch.device,
           on_step: Callable[[int, dict[str, float]], None] | None, console: Console | None) -> Path:
    main = rank == 0
    # rank 0 prints for everyone; the other ranks raise their errors
    console = (console or Console(progress=cfg.progress)) if main else Console("quiet")
    distributed = world > 1
    run_dir = cfg.run_dir()
    # NHWC: faster with cuDNN, and with oneDNN on the reference CPU (SRGAN step: 7.3 vs 8.5 CPU-s fp32,
    # 2.3 vs 3.1 CPU-s bf16), so on by default everywhere.
    channels_last = True if cfg.channels_last is None else cfg.channels_last
    mf = torch.channels_last if channels_last else torch.contiguous_format

    G, D, content = build_networks(cfg)
    if cfg.init and not cfg.resume:
        sd = read_weights(cfg.init).state_dict
        G.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})

    start, best_psnr, elapsed_before = 0, -math.inf, 0.0
    g_opt_state = d_opt_state = None
    if cfg.resume:
        if not ckpt.has_checkpoint(run_dir, "last"):
            raise ckpt.CheckpointError(f"--resume: no checkpoint in {run_dir} (expected "
                                       f"{ckpt.CHECKPOINT_DIR}/last-<step>/ or last.safetensors)")
        loaded = ckpt.load_newest(run_dir, "last")  # a damaged newest one is skipped with a warning
        state = loaded.state
        G.load_state_dict(loaded.generator)
        if D is not None:
            D.load_state_dict(loaded.discriminator)
        start, best_psnr = int(state["step"]), float(state.get("best_psnr", -math.inf))
        elapsed_before = float(state.get("elapsed_s", 0.0))
        g_opt_state, d_opt_state = state["g_opt"], state.get("d_opt")
        ckpt.set_rng_state(state["rng"])
        if state.get("model") != cfg.model or state.get("scale") != cfg.scale:
            raise ckpt.CheckpointError(f"{run_dir}: checkpoint is {state.get('model')} x{state.get('scale')}, "
                                       f"config asks for {cfg.model} x{cfg.scale}")
        if cfg.steps is not None and cfg.steps < start:
            raise ckpt.CheckpointError(f"{run_dir}: steps={cfg.steps} is below the checkpoint's step {start}; "
                                       f"resuming cannot go back (give steps >= {start}, or start a new run)")
        if rank == 0:  # a save killed after its commit but before publishing: finish publishing now
            if loaded.directory != run_dir:  # the checkpoint loaded, not the newest (it may be damaged)
                ckpt.publish(run_dir, "last", loaded.directory)
            ckpt.publish(run_dir, "best")
    elif ckpt.has_checkpoint(run_dir, "last"):
        raise ckpt.CheckpointError(f"{run_dir} already holds a checkpoint: pass --resume to continue it, "
                                   "or choose another --out")

    G.to(device, memory_format=mf)
    if D is not None:
        D.to(device, memory_format=mf)
    if content is not None:
        content.to(device, memory_format=mf)
    g_opt = make_optimizer(G, cfg, lr_at(cfg, start))
    d_opt = make_optimizer(D, cfg, lr_at(cfg, start)) if D is not None else None
    if g_opt_state is not None:
        g_opt.load_state_dict(g_opt_state)
    if d_opt is not None and d_opt_state is not None:
        d_opt.load_state_dict(d_opt_state)

    if device.type == "cpu":
        # a step's largest activations (16 x 64 x 96 x 96 fp32: 38 MB) are above glibc's mmap threshold:
        # without this, every step maps and zero-fills them afresh (see srbench.perf.memory)
        memory.retain_freed_memory()
    runner = StepRunner(G, D, content, g_opt, d_opt, adv_weight=cfg.adv_weight, device=device, amp=cfg.amp,
                        compile=cfg.compile, distributed=distributed)

    # data
    files = resolve_hr_files(cfg.train_data, cfg.data_dir)
    pairs = load_pairs(files, cfg.scale, cfg.crop)
    dataset = StepBatches(pairs, scale=cfg.scale, crop=cfg.crop, global_batch=cfg.batch, seed=cfg.seed,
                          start=start, stop=cfg.steps, rank=rank, world=world, augment=cfg.augment)
    loader = make_loader(dataset, cfg.workers)
    val_pairs = load_validation(cfg) if main else []

    writer = None
    csv_log = None
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        csv_log = _CSVLog(run_dir / "log.csv", start)
        console.info(f"training {cfg.model} x{cfg.scale}: {len(pairs)} images, steps {start} -> {cfg.steps}, "
                     f"global batch {cfg.batch} on {world} rank(s), device {device}")
        if cfg.tensorboard:
            writer = _scalar_writer(run_dir / "tb", console)

    meta = {"model": cfg.model, "scale": str(cfg.scale), "content_loss": str(cfg.content_loss),
            "vgg_weights": str(getattr(content, "weights_path", "")), "format": "srbench-train-1"}

    def save(tag: str, step: int) -> Path:
        state = {"g_opt": g_opt.state_dict(), "d_opt": d_opt.state_dict() if d_opt else None,
                 "rng": ckpt.rng_state(), "best_psnr": best_psnr, "model": cfg.model, "scale": cfg.scale,
                 "config": json.dumps(cfg.to_dict()), "elapsed_s": time.perf_counter() - t0}
        return ckpt.save_checkpoint(run_dir, tag, step=step, generator=G, discriminator=D, state=state, meta=meta)

    def sync_flag(flag: bool) -> bool:
        if not distributed:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        torch.distributed.all_reduce(t)
        return bool(t.item() > 0)

    G.train()
    if D is not None:
        D.train()
    t0 = time.perf_counter() - elapsed_before  # log.csv time_s is training time across resumes
    progress = console.task(f"{cfg.model} x{cfg.scale}", cfg.steps, unit="step", initial=start) if main else None
    best = _best_validation(run_dir / "log.csv", start) if main and start else None
    best_step = best[0] if best else None
    last_line = (start, console.clock())  # (step, clock) of the last step line: s/step over the interval
    step = start
    with _StopFlag() as stop:
        try:
            for lr_b, hr_b in loader:
                lr_b = lr_b.to(device, non_blocking=True).contiguous(memory_format=mf)
                hr_b = hr_b.to(device, non_blocking=True).contiguous(memory_format=mf)
                lr_now = lr_at(cfg, step)
                for opt in (g_opt, d_opt):
                    if opt is not None:
                        for group in opt.param_groups:
                            group["lr"] = lr_now
                losses = runner(lr_b, hr_b)
                if distributed:  # log the global-batch mean, not rank 0's slice; one collective per step
                    keys = list(losses)
                    packed = torch.stack([losses[k].float() for k in keys]).to(device)
                    torch.distributed.all_reduce(packed)
                    losses = dict(zip(keys, packed / world, strict=True))
                if not _finite(*losses.values()):  # identical on all ranks after the all-reduce
                    have = ckpt.last_good(run_dir, "last")  # checked: not merely the newest
                    published = ckpt.paths(run_dir, "last")[0]
                    if have is not None and have != run_dir and not _same_file(have / ckpt.WEIGHTS_FILE, published):
                        published = have / ckpt.WEIGHTS_FILE
                    where = ("no checkpoint was written yet" if not ckpt.has_checkpoint(run_dir, "last")
                             else "no checkpoint is intact" if have is None
                             else f"the last good checkpoint is {published}")
                    vals = ", ".join(f"{k}={float(v):.4g}" for k, v in losses.items())
                    raise TrainingDiverged(
                        f"{cfg.model} training diverged at step {step + 1}: non-finite loss ({vals}). Stopped "
                        f"without saving; {where}. Lower the learning rate (lr = {lr_now:g}) or check the data, "
                        f"then --resume.")
                step += 1
                scalars = {k: float(v) for k, v in losses.items()}
                row: dict[str, Any] = {}
                if main and (step % cfg.log_every == 0 or step == cfg.steps):
                    row = {"step": step, "time_s": round(time.perf_counter() - t0, 2), "lr": lr_now,
                           **{k: f"{v:.6g}" for k, v in scalars.items()}}
                if main and val_pairs and (step % cfg.val_every == 0 or step == cfg.steps):
                    p, s = validate(G, val_pairs, cfg.scale, device, run_dir / "samples", cfg.samples, step)
                    row.update(step=step, time_s=round(time.perf_counter() - t0, 2), lr=lr_now,
                               val_psnr=f"{p:.4f}", val_ssim=f"{s:.5f}",
                               **{k: f"{v:.6g}" for k, v in scalars.items()})
                    if writer:
                        writer.add_scalar("val/psnr", p, step)
                        writer.add_scalar("val/ssim", s, step)
                    if p > best_psnr:
                        best_psnr, best_step = p, step
                        save("best", step)
                    console.say(f"[step {step}/{cfg.steps}] val {cfg.val_data}{SEP}psnr {p:.4f} dB{SEP}ssim {s:.4f}"
                                f"{SEP}best {best_psnr:.4f} dB at step {best_step}")
                if row and csv_log:
                    csv_log.write(row)
                    if writer:
                        for k, v in scalars.items():
                            writer.add_scalar(f"train/{k}", v, step)
                        writer.add_scalar("train/lr", lr_now, step)
                if progress is not None:
                    progress.set_postfix(", ".join(f"{short}={scalars[k]:.4g}" for k, short in _LOSS_NAMES.items()
                                                   if k in scalars))
                    progress.advance()
                    if console.mode == "plain" and (step % cfg.log_every == 0 or step in (start + 1, cfg.steps)):
                        now = console.clock()
                        per_step = (now - last_line[1]) / max(step - last_line[0], 1)
                        console.info(step_line(step, cfg.steps, lr_now, scalars, per_step))
                        last_line = (step, now)
                if main and (step % cfg.ckpt_every == 0 or step == cfg.steps):
                    save("last", step)
                if on_step is not None:
                    on_step(step, scalars)
                if sync_flag(stop.stop):
                    path = save("last", step) if main else ckpt.paths(run_dir, "last")[0]
                    if distributed:
                        torch.distributed.barrier()
                    raise TrainingInterrupted(path, step)
        finally:
            if progress is not None:
                progress.close()
            if writer is not None:
                writer.close()
    if distributed:
        torch.distributed.barrier()
    return run_dir
