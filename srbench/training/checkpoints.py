"""Training checkpoints: weights in safetensors, the rest in a ``torch.save`` file that loads with
``weights_only=True`` (optimiser states, step, RNG states as tensors, best PSNR, config as plain data).

A checkpoint ``<tag>`` is two files in the run folder: ``<tag>.safetensors`` (``generator.*`` and
``discriminator.*`` tensors; metadata: step, model, scale) and ``<tag>.state.pt``. Each is written to a
temporary file and moved into place with ``os.replace`` (atomic on POSIX), the state file last; both carry
the step, and loading refuses a mismatched pair, so a kill at any moment leaves either the previous
checkpoint or the new one, never a torn one. ``<tag>.safetensors`` alone is loadable by the adapters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from srbench.files import atomic_write
from srbench.interfaces import SRBenchError


class CheckpointError(SRBenchError):
    """A checkpoint is missing, torn or does not fit the run."""


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
    return run_dir / f"{tag}.safetensors", run_dir / f"{tag}.state.pt"


def save_checkpoint(run_dir: Path, tag: str, *, step: int, generator: nn.Module,
                    discriminator: nn.Module | None, state: dict[str, Any], meta: dict[str, str]) -> Path:
    """Write ``<tag>.safetensors`` + ``<tag>.state.pt`` atomically; returns the safetensors path.

    ``state`` holds plain data and tensors only (optimiser ``state_dict()``s, RNG tensors, numbers, strings).
    """
    wpath, spath = paths(run_dir, tag)
    tensors = _tensors("generator", generator)
    if discriminator is not None:
        tensors.update(_tensors("discriminator", discriminator))
    metadata = {**meta, "step": str(step)}
    _atomic(wpath, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    _atomic(spath, lambda tmp: torch.save({**state, "step": step}, tmp))
    return wpath


def load_checkpoint(run_dir: Path, tag: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """(generator state_dict, discriminator state_dict (maybe empty), state) of checkpoint ``tag``."""
    wpath, spath = paths(run_dir, tag)
    if not wpath.is_file() or not spath.is_file():
        raise CheckpointError(f"no complete checkpoint {tag!r} in {run_dir} (need {wpath.name} and {spath.name})")
    tensors = load_file(str(wpath))
    try:
        state = torch.load(str(spath), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{spath}: cannot be loaded with weights_only=True ({exc})") from exc
    from safetensors import safe_open

    with safe_open(str(wpath), framework="pt") as f:
        wstep = int((f.metadata() or {}).get("step", -1))
    if wstep != state.get("step"):
        raise CheckpointError(f"checkpoint {tag!r} in {run_dir} is torn: weights at step {wstep}, "
                              f"state at step {state.get('step')} (the run was killed while saving?)")
    g = {k.removeprefix("generator."): v for k, v in tensors.items() if k.startswith("generator.")}
    d = {k.removeprefix("discriminator."): v for k, v in tensors.items() if k.startswith("discriminator.")}
    return g, d, state


def export_generator(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str], *,
                     dtype: torch.dtype = torch.float16, meta: dict[str, str] | None = None) -> Path:
    """Write the generator of a checkpoint (or any adapter-loadable weights) as a compact safetensors file.

    Floating tensors are cast to ``dtype`` (fp16 halves the size: the demo weights are ~3 MB); the
    adapters cast back to float32. BN is kept unfolded (the adapter folds at load time).
    """
    from srbench.models.srresnet import load_state_dict_safely

    sd, old_meta = load_state_dict_safely(checkpoint)
    sd = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in sd.items()}
    out = Path(out)
    metadata = {**old_meta, **(meta or {})}
    _atomic(out, lambda tmp: save_file(sd, tmp, metadata=metadata))
    return out
