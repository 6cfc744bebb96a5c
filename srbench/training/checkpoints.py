"""Training checkpoints: weights in safetensors, the rest in a ``torch.save`` file that loads with
``weights_only=True`` (optimiser states, step, RNG states as tensors, best PSNR, config as plain data).

A checkpoint ``<tag>`` at step N is one directory, ``checkpoints/<tag>-<N:08d>/``, holding
``weights.safetensors`` (``generator.*`` and ``discriminator.*`` tensors; metadata: step, model, scale) and
``state.pt``. The pair is committed atomically: both files are written and fsynced inside a temporary
directory, which is then renamed into place (one ``rename``, atomic on POSIX). A kill at any moment
therefore leaves every committed directory whole. The previous committed checkpoint of each tag is kept as
the fallback: loading takes the newest directory whose pair is readable and consistent (same step in
both files) and falls back to the one before when it is not.

After the commit, ``<tag>.safetensors`` and ``<tag>.state.pt`` in the run folder are replaced (atomically,
as hard links, or copies where the file system has none) by the committed files: the paths users and the
model adapters know (``--weights runs/x/best.safetensors``). They are conveniences; resuming reads the
committed directories. Run folders of older srbench versions (only the two top-level files) still load.

Every step of a save that creates, moves, links or deletes a file goes through :func:`_write`, one call
per write boundary, so the tests can kill a save at each boundary (``monkeypatch.setattr(checkpoints, "_write", ...)``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from srbench.files import atomic_write
from srbench.interfaces import SRBenchError
from srbench.models.weights import read_weights

log = logging.getLogger("srbench.training")

CHECKPOINT_DIR = "checkpoints"
WEIGHTS_FILE = "weights.safetensors"
STATE_FILE = "state.pt"
KEEP = 2  # committed checkpoints kept per tag: the newest and its fallback

T = TypeVar("T")


class CheckpointError(SRBenchError):
    """A checkpoint is missing, torn or does not fit the run."""


def _write(op: str, fn: Callable[..., T], *args: Any) -> T:
    """Run one file-system change of a save (``op`` names it). The fault-injection tests replace this."""
    return fn(*args)


def _atomic(path: Path, write: Any) -> None:
    atomic_write(path, write, fsync=True)


def _tensors(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def paths(run_dir: Path, tag: str) -> tuple[Path, Path]:
    """The published (top-level) files of checkpoint ``tag``: ``<tag>.safetensors``, ``<tag>.state.pt``."""
    return run_dir / f"{tag}.safetensors", run_dir / f"{tag}.state.pt"


def committed(run_dir: Path, tag: str) -> list[tuple[int, Path]]:
    """The committed checkpoint directories of ``tag`` as (step, path), newest first."""
    root = run_dir / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    pattern = re.compile(rf"{re.escape(tag)}-(\d+)")
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := pattern.fullmatch(p.name))]
    return sorted(found, reverse=True)


def has_checkpoint(run_dir: Path, tag: str) -> bool:
    """Whether ``run_dir`` holds anything of checkpoint ``tag`` (committed, or the published files)."""
    return bool(committed(run_dir, tag)) or any(p.is_file() for p in paths(run_dir, tag))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _publish_file(src: Path, dst: Path) -> None:
    """Replace ``dst`` by ``src``'s content atomically: a hard link moved into place (or a copy)."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # no hard links here (some network/FAT file systems): an atomic copy instead
        _atomic(dst, lambda t: shutil.copyfile(src, t))
        return
    os.replace(tmp, dst)


def publish(run_dir: Path, tag: str) -> Path | None:
    """Point ``<tag>.safetensors``/``<tag>.state.pt`` at the newest committed checkpoint of ``tag``.

    Returns the published weights path (None when nothing is committed). Safe to repeat; ``train`` calls it
    on resume, so a save killed after its commit but before publishing is completed then.
    """
    found = committed(run_dir, tag)
    if not found:
        return None
    ckdir = found[0][1]
    wpath, spath = paths(run_dir, tag)
    for src, dst in ((ckdir / WEIGHTS_FILE, wpath), (ckdir / STATE_FILE, spath)):
        if not (dst.is_file() and src.is_file() and os.path.samefile(src, dst)):
            _write("publish", _publish_file, src, dst)
    return wpath


def _prune(run_dir: Path, tag: str, keep: int) -> None:
    """Delete committed checkpoints of ``tag`` beyond the newest ``keep``, and temporary leftovers of
    saves that were killed (``checkpoints/.<tag>-*``)."""
    root = run_dir / CHECKPOINT_DIR
    for _, old in committed(run_dir, tag)[keep:]:
        _write("prune", shutil.rmtree, old, True)
    for tmp in root.glob(f".{tag}-*"):
        if tmp.is_dir():
            _write("prune", shutil.rmtree, tmp, True)
    for link in run_dir.glob(f".{tag}.*.link"):  # a publish killed between link and replace
        _write("prune", link.unlink, True)


def save_checkpoint(run_dir: Path, tag: str, *, step: int, generator: nn.Module,
                    discriminator: nn.Module | None, state: dict[str, Any], meta: dict[str, str]) -> Path:
    """Commit checkpoint ``tag`` at ``step`` (see the module docstring); returns ``<tag>.safetensors``.

    ``state`` holds plain data and tensors only (optimiser ``state_dict()``s, RNG tensors, numbers, strings).
    """
    tensors = _tensors("generator", generator)
    if discriminator is not None:
        tensors.update(_tensors("discriminator", discriminator))
    metadata = {**meta, "step": str(step)}
    root = run_dir / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{tag}-{step:08d}"
    tmp = Path(_write("mkdtemp", tempfile.mkdtemp, "", f".{tag}-{step:08d}.", str(root)))
    _write("weights", save_file, tensors, str(tmp / WEIGHTS_FILE), metadata)
    _write("state", torch.save, {**state, "step": step}, str(tmp / STATE_FILE))
    for name in (WEIGHTS_FILE, STATE_FILE):
        os.chmod(tmp / name, 0o666 & ~_umask())
        _fsync_file(tmp / name)
    os.chmod(tmp, 0o777 & ~_umask())
    _fsync_dir(tmp)
    if final.exists():  # the same step saved again (end of run, then Ctrl-C): set the old one aside first
        aside = root / f".{tag}-{step:08d}.replaced"
        _write("prune", shutil.rmtree, aside, True)
        _write("set aside", os.rename, final, aside)
    _write("commit", os.rename, tmp, final)  # the commit point of the pair
    _fsync_dir(root)
    wpath = publish(run_dir, tag)
    _prune(run_dir, tag, KEEP)
    return wpath if wpath is not None else paths(run_dir, tag)[0]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _load_pair(wpath: Path, spath: Path, where: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if not wpath.is_file() or not spath.is_file():
        raise CheckpointError(f"{where}: incomplete (need {wpath.name} and {spath.name})")
    try:
        tensors = load_file(str(wpath))
        from safetensors import safe_open

        with safe_open(str(wpath), framework="pt") as f:
            wstep = int((f.metadata() or {}).get("step", -1))
    except Exception as exc:
        raise CheckpointError(f"{wpath}: not a readable safetensors file ({exc})") from exc
    try:
        state = torch.load(str(spath), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{spath}: cannot be loaded with weights_only=True ({exc})") from exc
    if not isinstance(state, dict) or wstep != state.get("step"):
        got = state.get("step") if isinstance(state, dict) else None
        raise CheckpointError(f"{where} is torn: weights at step {wstep}, state at step {got} "
                              f"(the run was killed while saving?)")
    return tensors, state


def load_checkpoint(run_dir: Path, tag: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """(generator state_dict, discriminator state_dict (maybe empty), state) of the newest good checkpoint
    ``tag``: the newest committed directory that loads, else the one before it (a warning says so), else
    the top-level pair of an older srbench run folder."""
    problems: list[str] = []
    loaded: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
    for _, ckdir in committed(run_dir, tag):
        try:
            loaded = _load_pair(ckdir / WEIGHTS_FILE, ckdir / STATE_FILE, f"checkpoint {ckdir}")
            break
        except CheckpointError as exc:
            problems.append(str(exc))
    if loaded is None and not committed(run_dir, tag):
        wpath, spath = paths(run_dir, tag)
        if wpath.is_file() or spath.is_file():
            try:
                loaded = _load_pair(wpath, spath, f"checkpoint {tag!r} in {run_dir}")
            except CheckpointError as exc:
                problems.append(str(exc))
    if loaded is None:
        detail = "; ".join(problems) if problems else f"no checkpoint {tag!r} in {run_dir}"
        raise CheckpointError(f"no usable checkpoint {tag!r} in {run_dir}: {detail}")
    if problems:
        log.warning("skipped a damaged checkpoint, using the previous good one (step %s): %s",
                    loaded[1].get("step"), "; ".join(problems))
    tensors, state = loaded
    g = {k.removeprefix("generator."): v for k, v in tensors.items() if k.startswith("generator.")}
    d = {k.removeprefix("discriminator."): v for k, v in tensors.items() if k.startswith("discriminator.")}
    return g, d, state


def export_generator(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str], *,
                     dtype: torch.dtype = torch.float16, meta: dict[str, str] | None = None) -> Path:
    """Write the generator of a checkpoint (or any adapter-loadable weights) as a compact safetensors file.

    Floating tensors are cast to ``dtype`` (fp16 halves the size: the demo weights are ~3 MB); the
    adapters cast back to float32. BN is kept unfolded (the adapter folds at load time).
    """
    weights = read_weights(checkpoint)
    sd, old_meta = weights.state_dict, weights.metadata
    sd = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in sd.items()}
    out = Path(out)
    metadata = {**old_meta, **(meta or {})}
    _atomic(out, lambda tmp: save_file(sd, tmp, metadata=metadata))
    return out
