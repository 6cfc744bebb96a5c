"""Reading weight files safely: safetensors, or ``torch.load(weights_only=True)``; never arbitrary pickles.

One copy for every loader (``file:`` models, the SRResNet/SRGAN adapters, ``srbench convert``): a file
that cannot be read is a :class:`~srbench.interfaces.ModelError` naming it.
"""

from __future__ import annotations

import os
from typing import Any

from srbench.interfaces import ModelError


def read_safetensors(path: str | os.PathLike[str], *, what: str = "weights file",
                     framework: str = "pt") -> tuple[dict[str, Any], dict[str, str]]:
    """(tensors, metadata) of a ``.safetensors`` file; ``framework`` "pt" (CPU tensors) or "numpy"."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework=framework, device="cpu") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as exc:
        raise ModelError(f"{what} {path}: not a readable safetensors file ({exc})") from exc
    return tensors, meta


def torch_load_weights(path: str | os.PathLike[str], *, what: str = "weights file") -> Any:
    """``torch.load(weights_only=True)`` on CPU: pickles that reference arbitrary callables are refused."""
    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for unsafe pickles, others for corrupt/TorchScript files
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelError(
            f"{what} {path}: refused or unreadable with torch.load(weights_only=True) ({type(exc).__name__}: "
            f"{first}). srbench never unpickles arbitrary objects: save a plain state_dict "
            "(torch.save(model.state_dict(), ...)) or convert it to .safetensors."
        ) from exc
