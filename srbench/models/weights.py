"""Reading weight files safely, and the one unwrap policy for every path that loads weights.

Files are read by srbench itself, never unpickled: ``.safetensors`` with safetensors, anything else with
``torch.load(weights_only=True, map_location="cpu")`` (a pickle that references any callable is refused
before it can run). :func:`read_weights` is the one reader of ``file:`` models, the ``--weights`` of the
srresnet/srgan/keras-srresnet/seed-srgan adapters, ``srbench convert`` and training's ``--init`` and
``export``, so one file gives the same tensors whichever way it is loaded. The unwrap policy, in order:

1. wrappers: a dict holding the state dict under one of :data:`WRAPPER_KEYS` (first present wins: BasicSR's
   EMA weights ``params_ema`` before ``params``, as BasicSR evaluates them), or a dict whose only entry is a
   dict; nested wrappers up to :data:`MAX_WRAPPERS` deep (``{"state_dict": {"params_ema": ...}}``);
2. the generator of a GAN checkpoint: when keys start with :data:`GENERATOR_PREFIX`, only those are kept,
   prefix removed (srbench's training checkpoints hold ``generator.*`` and ``discriminator.*``);
3. prefixes: each of :data:`PREFIXES` is removed when *every* key carries it (DDP's ``module.``).
   Not ``model.``: the old ESRGAN layout starts with it.

A file that cannot be read, or holds no state dict of tensors, is a ModelError naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open

from srbench.interfaces import ModelError

# Keys that hold the network's state dict, in order of preference.
WRAPPER_KEYS = ("params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net_g",
                "net", "generator", "g_ema", "g", "netG", "module")
MAX_WRAPPERS = 4
GENERATOR_PREFIX = "generator."
PREFIXES = ("module.", "netG.", "net_g.")
ARRAY_TYPES = (torch.Tensor, np.ndarray)  # what the torch and the numpy readers return


@dataclass(frozen=True)
class Checkpoint:
    """A weights file's tensors (torch, or numpy with ``framework="numpy"``) and where they were inside it.

    ``wrapper``: the keys unwrapped, e.g. ``"params_ema"`` or ``"state_dict/params_ema"``; ``prefix``: the
    key prefixes removed, e.g. ``"module."`` or ``"generator."``; ``metadata``: a safetensors header's.
    """

    path: Path
    state_dict: dict[str, Any]
    wrapper: str | None = None
    prefix: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def dtypes(self) -> list[str]:
        """The floating-point dtypes of the weights (index buffers such as SwinIR's are int64: not listed)."""
        names = {k: str(v.dtype).removeprefix("torch.") for k, v in self.state_dict.items()}
        floats = {names[k] for k, v in self.state_dict.items() if _is_float(v)}
        return sorted(floats or set(names.values()))


def _is_float(v: torch.Tensor | np.ndarray) -> bool:
    return v.is_floating_point() if isinstance(v, torch.Tensor) else bool(np.issubdtype(v.dtype, np.floating))


def read_safetensors(path: str | os.PathLike[str], *, what: str = "weights file",
                     framework: str = "pt") -> tuple[dict[str, Any], dict[str, str]]:
    """(tensors, metadata) of a ``.safetensors`` file; ``framework`` "pt" (CPU tensors) or "numpy"."""
    try:
        with safe_open(str(path), framework=framework, device="cpu") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as exc:
        raise ModelError(f"{what} {path}: not a readable safetensors file ({exc})") from exc
    return tensors, meta


def torch_load_weights(path: str | os.PathLike[str], *, what: str = "weights file") -> Any:
    """``torch.load(weights_only=True)`` on CPU: pickles that reference arbitrary callables are refused."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for unsafe pickles, others for corrupt/TorchScript files
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelError(
            f"{what} {path}: refused or unreadable with torch.load(weights_only=True) ({type(exc).__name__}: "
            f"{first}). srbench never unpickles arbitrary objects: save a plain state_dict "
            "(torch.save(model.state_dict(), ...)) or convert it to .safetensors."
        ) from exc


def unwrap(obj: Any, where: str) -> tuple[dict[str, Any], str | None, str | None]:
    """(flat state dict, wrapper, prefix) of a loaded object by the module's policy; ModelError naming
    ``where`` when it holds no state dict of tensors."""
    wrapper = None
    for _ in range(MAX_WRAPPERS):
        if not isinstance(obj, dict):
            break
        key = next((k for k in WRAPPER_KEYS if isinstance(obj.get(k), dict) and obj[k]), None)
        if key is None and len(obj) == 1 and isinstance(next(iter(obj.values())), dict):
            key = next(iter(obj))
        if key is None:
            break
        wrapper = key if wrapper is None else f"{wrapper}/{key}"
        obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise ModelError(f"{where}: expected a state dict of tensors, found {type(obj).__name__}")
    arrays = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, ARRAY_TYPES)}
    if len(arrays) != len(obj):
        odd = sorted(str(k) for k, v in obj.items() if not isinstance(v, ARRAY_TYPES))[:5]
        raise ModelError(f"{where}: expected a state dict of tensors; entries {odd} are not tensors "
                         f"(a training checkpoint? srbench looks for {', '.join(WRAPPER_KEYS[:6])}, ...)")
    prefixes: list[str] = []
    if any(k.startswith(GENERATOR_PREFIX) for k in arrays):
        arrays = {k.removeprefix(GENERATOR_PREFIX): v for k, v in arrays.items()
                  if k.startswith(GENERATOR_PREFIX)}
        prefixes.append(GENERATOR_PREFIX)
    for p in PREFIXES:
        if all(k.startswith(p) for k in arrays):
            arrays = {k.removeprefix(p): v for k, v in arrays.items()}
            prefixes.append(p)
    return arrays, wrapper, "".join(prefixes) or None


def read_weights(path: str | os.PathLike[str], *, what: str = "weights file",
                 framework: str = "pt") -> Checkpoint:
    """Read ``path`` without executing code and unwrap it (module doc) to a flat ``{name: tensor}`` dict.

    ``what`` names the file in errors ("model file", "weights file"); ``framework="numpy"`` returns numpy
    arrays (safetensors read as numpy; a torch file's tensors converted). Raises ModelError naming the file:
    missing, unreadable, refused by ``weights_only``, or holding no state dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{what} {path} not found")
    meta: dict[str, str] = {}
    if path.suffix.lower() == ".safetensors":
        obj, meta = read_safetensors(path, what=what, framework=framework)
    else:
        obj = torch_load_weights(path, what=what)
    state_dict, wrapper, prefix = unwrap(obj, f"{what} {path}")
    if framework == "numpy":
        state_dict = {k: v if isinstance(v, np.ndarray) else v.numpy() for k, v in state_dict.items()}
    return Checkpoint(path, state_dict, wrapper, prefix, meta)
