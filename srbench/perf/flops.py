"""FLOP counts (2 FLOPs per multiply-accumulate; convolutions, matmuls, attention only).

Parameter counts live with the models (:func:`srbench.models.fast.count_params`): adapters report them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

FLOPS_LR_SIZE = (256, 256)  # the challenges' convention for the headline FLOP count


def count_flops(module: torch.nn.Module, shape: Sequence[int], *, device: str | None = None) -> int:
    """FLOPs (2 per multiply-accumulate) of one forward pass of ``module`` on an input of NCHW ``shape``.

    Counted with ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, matmuls, attention; not
    elementwise ops). The count runs on a copy of the module on the ``meta`` device (no arithmetic, no
    memory) when the module allows it, else on its own device with a zero input.
    """
    import copy

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    def run(mod: torch.nn.Module, dev: Any) -> int:
        x = torch.zeros(tuple(shape), device=dev)
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            mod(x)
        return int(counter.get_total_flops())

    try:
        meta = copy.deepcopy(module).to("meta")
        return run(meta, "meta")
    except Exception:  # some ops have no meta kernel: count on the real device
        dev = device or next((p.device for p in module.parameters()), torch.device("cpu"))
        return run(module, dev)
