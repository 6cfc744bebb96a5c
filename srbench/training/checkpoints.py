"""Training checkpoints: weights in safetensors, the rest in a ``torch.save`` file that loads with
``weights_only=True`` (optimiser states, step, RNG states as tensors, best PSNR, config as plain data).

A checkpoint ``<tag>`` at step N is one directory, ``checkpoints/<tag>-<N:08d>/``, holding
``weights.safetensors`` (``generator.*`` and ``discriminator.*`` tensors; metadata: step, model, scale) and
``state.pt``. The pair is committed atomically: both files are written and fsynced inside a temporary
directory, which is then renamed into place (one ``rename``, atomic on POSIX). A kill at any moment
therefore leaves every committed directory whole. The previous committed checkpoint of each tag is kept as
the fallback: loading takes the newest directory whose pair is readable, consistent (same step in both
files) and intact, and falls back to the one before when it is not.

Intact: ``state.pt`` records a SHA-256 per file (``digests``: the bytes of ``weights.safetensors``, and the
content of the state itself, which cannot hold its own file's digest), checked on every load, because
neither safetensors nor ``torch.load`` checks tensor bytes: a flipped bit loads silently. Both files are
byte-reproducible (the same state saved twice gives the same bytes): the safetensors header is written
with its metadata sorted, where the library writes a hash map in a random order.

After the commit, ``<tag>.safetensors`` and ``<tag>.state.pt`` in the run folder are replaced (atomically,
as hard links, or copies where the file system has none) by the committed files: the paths users and the
model adapters know (``--weights runs/x/best.safetensors``). They are conveniences; resuming reads the
committed directories. Run folders of older srbench versions (only the two top-level files) still load.

Every step of a save that creates, moves, links or deletes a file goes through :func:`_write`, one call
per write boundary, so the tests can kill a save at each boundary (``monkeypatch.setattr(checkpoints, "_write", ...)``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import safetensors
import safetensors.torch
import torch
from torch import nn

from srbench.files import atomic_write
from srbench.interfaces import SRBenchError
from srbench.models.weights import read_weights

log = logging.getLogger("srbench.training")

CHECKPOINT_DIR = "checkpoints"
WEIGHTS_FILE = "weights.safetensors"
STATE_FILE = "state.pt"
KEEP = 2  # committed checkpoints kept per tag: the newest and its fallback
DIGESTS = "digests"  # the key of state.pt holding {WEIGHTS_FILE: sha256 hex, STATE_FILE: sha256 hex}

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


def publish(run_dir: Path, tag: str, ckdir: Path | None = None) -> Path | None:
    """Point ``<tag>.safetensors``/``<tag>.state.pt`` at the committed checkpoint ``ckdir`` (by default
    the newest good one of ``tag``: see :func:`last_good`; a damaged newer one is never published).

    Returns the published weights path (None when nothing good is committed). Safe to repeat; ``train``
    calls it on resume with the directory it loaded, so a save killed after its commit but before
    publishing is completed then.
    """
    if ckdir is None:
        ckdir = last_good(run_dir, tag)
        if ckdir is None or ckdir == run_dir:
            return None
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
    wdigest = _write("weights", _write_safetensors, tmp / WEIGHTS_FILE, tensors, metadata)
    full = {k: v for k, v in state.items() if k != DIGESTS} | {"step": step}
    full[DIGESTS] = {WEIGHTS_FILE: wdigest, STATE_FILE: _content_digest(full)}
    _write("state", torch.save, full, str(tmp / STATE_FILE))
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
    wpath = publish(run_dir, tag, final)
    _prune(run_dir, tag, KEEP)
    return wpath if wpath is not None else paths(run_dir, tag)[0]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _safetensors_parts(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[bytes, memoryview]:
    """A safetensors file as (header, data), the header with sorted keys: the library serialises the
    metadata from a hash map, in a different order on every call, so the same checkpoint came out as
    different bytes. The data is a view of the library's buffer (no second copy of the weights)."""
    blob = safetensors.torch.save(tensors, metadata=metadata)
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = dict(sorted(header.pop("__metadata__", {}).items()))
    text = json.dumps({"__metadata__": meta, **dict(sorted(header.items()))}, separators=(",", ":"),
                      ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the data stays 8-byte aligned, as the library pads it
    return struct.pack("<Q", len(text)) + text, memoryview(blob)[8 + n:]


def _write_safetensors(path: str | os.PathLike[str], tensors: dict[str, torch.Tensor],
                       metadata: dict[str, str]) -> str:
    """Write ``tensors`` as a byte-reproducible safetensors file; returns its sha256 (hex)."""
    head, data = _safetensors_parts(tensors, metadata)
    with open(path, "wb") as f:
        f.write(head)
        f.write(data)
    h = hashlib.sha256(head)
    h.update(data)
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(obj.shape)}:".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}:".encode())
        for key in sorted(obj, key=repr):
            _feed(h, key)
            _feed(h, obj[key])
    elif isinstance(obj, list | tuple):
        h.update(f"{type(obj).__name__[0]}{len(obj)}:".encode())
        for v in obj:
            _feed(h, v)
    else:  # numbers, strings, None, bools: repr is exact (floats round-trip)
        h.update(f"{type(obj).__name__}={obj!r};".encode())


def _content_digest(state: dict[str, Any]) -> str:
    """SHA-256 of a state's content (every key, number, string and tensor byte; ``digests`` left out)."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != DIGESTS})
    return h.hexdigest()


def _load_pair(wpath: Path, spath: Path, where: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load and check one (weights, state) pair: both readable, the same step, and (checkpoints that record
    digests: every one since issue 23) every byte as saved."""
    if not wpath.is_file() or not spath.is_file():
        raise CheckpointError(f"{where}: incomplete (need {wpath.name} and {spath.name})")
    try:
        state = torch.load(str(spath), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{spath}: cannot be loaded with weights_only=True ({exc})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{spath}: not a checkpoint state (a {type(state).__name__}, not a dict)")
    digests = state.get(DIGESTS)
    if digests is not None and _content_digest(state) != digests.get(STATE_FILE):
        raise CheckpointError(f"{spath}: damaged (its content does not match the digest recorded when it "
                              "was saved)")
    if digests is not None:
        with open(wpath, "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() != digests.get(WEIGHTS_FILE):
                raise CheckpointError(f"{wpath}: damaged (its sha256 does not match the digest recorded in "
                                      f"{spath.name})")
    try:
        tensors = safetensors.torch.load_file(str(wpath))
        with safetensors.safe_open(str(wpath), framework="pt") as f:
            wstep = int((f.metadata() or {}).get("step", -1))
    except Exception as exc:
        raise CheckpointError(f"{wpath}: not a readable safetensors file ({exc})") from exc
    if wstep != state.get("step"):
        raise CheckpointError(f"{where} is torn: weights at step {wstep}, state at step {state.get('step')} "
                              f"(the run was killed while saving?)")
    return tensors, state


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint as loaded: the two state_dicts (``discriminator`` maybe empty), the state, and the
    directory it came from (``run_dir`` itself for an older srbench's top-level pair)."""

    generator: dict[str, torch.Tensor]
    discriminator: dict[str, torch.Tensor]
    state: dict[str, Any]
    directory: Path


def _newest_good(run_dir: Path, tag: str) -> tuple[LoadedCheckpoint | None, list[str]]:
    problems: list[str] = []
    found = committed(run_dir, tag)
    candidates = [(ckdir / WEIGHTS_FILE, ckdir / STATE_FILE, ckdir) for _, ckdir in found]
    if not found:
        wpath, spath = paths(run_dir, tag)
        if wpath.is_file() or spath.is_file():
            candidates.append((wpath, spath, run_dir))
    for wpath, spath, where in candidates:
        label = f"checkpoint {where}" if where != run_dir else f"checkpoint {tag!r} in {run_dir}"
        try:
            tensors, state = _load_pair(wpath, spath, label)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        g = {k.removeprefix("generator."): v for k, v in tensors.items() if k.startswith("generator.")}
        d = {k.removeprefix("discriminator."): v for k, v in tensors.items() if k.startswith("discriminator.")}
        return LoadedCheckpoint(g, d, state, where), problems
    return None, problems


def load_newest(run_dir: Path, tag: str) -> LoadedCheckpoint:
    """The newest good checkpoint ``tag``: the newest committed directory that loads whole (see
    :func:`_load_pair`), else the one before it (a warning names what was skipped and why), else the
    top-level pair of an older srbench run folder. CheckpointError when there is none."""
    loaded, problems = _newest_good(run_dir, tag)
    if loaded is None:
        detail = "; ".join(problems) if problems else f"no checkpoint {tag!r} in {run_dir}"
        raise CheckpointError(f"no usable checkpoint {tag!r} in {run_dir}: {detail}")
    if problems:
        log.warning("skipped a damaged checkpoint, using the previous good one (step %s): %s",
                    loaded.state.get("step"), "; ".join(problems))
    return loaded


def load_checkpoint(run_dir: Path, tag: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """(generator state_dict, discriminator state_dict (maybe empty), state) of :func:`load_newest`."""
    loaded = load_newest(run_dir, tag)
    return loaded.generator, loaded.discriminator, loaded.state


def last_good(run_dir: Path, tag: str) -> Path | None:
    """The directory of the newest checkpoint ``tag`` that loads whole (``run_dir`` for an older srbench's
    top-level pair), or None. Reads and checks every file: for resumes and error messages, not per step."""
    loaded, _ = _newest_good(run_dir, tag)
    return None if loaded is None else loaded.directory


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
    _atomic(out, lambda tmp: _write_safetensors(tmp, sd, metadata))
    return out
