"""srbench's private addition to spandrel's registry: networks that spandrel 0.4 does not know.

One module per family, each with its ``nn.Module`` (the authors' parameter names, so their released
checkpoints load strictly) and a spandrel ``Architecture`` that detects it from the state dict:

* :mod:`~srbench.models.archs.edsr` EDSR in BasicSR's layout; :mod:`~srbench.models.archs.srcnn` SRCNN (two
  layouts, pre-upsampling, Y); :mod:`~srbench.models.archs.fsrcnn` FSRCNN (Y, deconvolution);
* :mod:`~srbench.models.archs.imdn` IMDN, :mod:`~srbench.models.archs.rfdn` RFDN,
  :mod:`~srbench.models.archs.rlfn` RLFN, :mod:`~srbench.models.archs.span` SPAN's re-parameterised deploy
  form, :mod:`~srbench.models.archs.carn` CARN / CARN-M;
* :mod:`~srbench.models.archs.own` srbench's own SRResNet and seed generator (demo, train, convert files).

:func:`registry` is spandrel's main registry plus these, as a copy: spandrel's global registry is never
modified.
"""

from __future__ import annotations

from typing import Any

from srbench.models.archs.edsr import EDSR
from srbench.models.archs.srcnn import SRCNN

__all__ = ["EDSR", "SRCNN", "ADDED", "registry"]

# The architectures srbench adds, as "module:factory" (each factory returns a spandrel Architecture).
ADDED = (
    "srbench.models.archs.edsr:edsr_architecture",
    "srbench.models.archs.srcnn:srcnn_architecture",
    "srbench.models.archs.fsrcnn:fsrcnn_architecture",
    "srbench.models.archs.imdn:imdn_architecture",
    "srbench.models.archs.rfdn:rfdn_architecture",
    "srbench.models.archs.rlfn:rlfn_architecture",
    "srbench.models.archs.span:span_architecture",
    "srbench.models.archs.carn:carn_architecture",
    "srbench.models.archs.own:srresnet_architecture",
    "srbench.models.archs.own:seed_architecture",
)


def added_architectures() -> list[Any]:
    """The spandrel ``Architecture`` objects srbench adds (in :data:`ADDED` order)."""
    import importlib

    out = []
    for target in ADDED:
        module, _, attr = target.partition(":")
        out.append(getattr(importlib.import_module(module), attr)())
    return out


def registry() -> Any:
    """spandrel's MAIN_REGISTRY (a copy) plus srbench's architectures."""
    from spandrel import MAIN_REGISTRY, ArchSupport

    reg = MAIN_REGISTRY.copy()
    reg.add(*(ArchSupport.from_architecture(a) for a in added_architectures()))
    return reg
