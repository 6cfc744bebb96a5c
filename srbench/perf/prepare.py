"""Turning a model into the callable that is timed, and the contexts it runs under."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from srbench.interfaces import Fusable, FusionUnsupported, ModelError, SRModel, TorchBacked
from srbench.perf import memory
from srbench.perf.peak import torch_dtype
from srbench.perf.timing import is_cuda


@dataclass(frozen=True)
class PreparedModel:
    """What the benchmark passes time: ``fn`` maps an NCHW float32 [0, 1] tensor on the device to the
    output; ``module`` is the torch module whose FLOPs/params are reported (None for non-torch models),
    ``params`` its parameter count."""
    name: str
    fn: Callable[[Any], Any]
    module: Any
    channels_last: bool
    compiled: bool
    fused: bool
    note: str
    params: int | None = None


def resolve_module(model: Any) -> tuple[str, Any, SRModel | None]:
    """(name, torch module or None, the SRModel or None) of a bare module or an adapter.

    An adapter's torch module is its ``module`` attribute, declared by :class:`srbench.interfaces.TorchBacked`.
    """
    import torch

    if isinstance(model, torch.nn.Module):
        return type(model).__name__, model, None
    if isinstance(model, SRModel):
        mod = model.module if isinstance(model, TorchBacked) else None
        return model.name, (mod if isinstance(mod, torch.nn.Module) else None), model
    raise ModelError(f"cannot benchmark {type(model).__name__}: expected an SRModel or a torch.nn.Module")


def prepare_model(model: Any, *, device: str = "cpu", channels_last: bool = False, compile: bool = False,
                  fused: bool = False, dtype: str = "fp32", compile_mode: str | None = None) -> PreparedModel:
    """Turn a model into the callable that is timed.

    A torch module (an ``nn.Module``, or an adapter's ``.module``) is timed directly, in eval mode under
    ``torch.inference_mode``: that is the network's own speed, without the adapter's input checks. Options:
    ``channels_last`` (NHWC memory format for module and input), ``fused`` (the module's own fused plan,
    :class:`srbench.interfaces.Fusable`, e.g. the SRResNet networks': BN/PReLU/residual/tanh folded into
    oneDNN convolution post-ops, run in ``dtype`` itself rather than under autocast; falls back with a note
    for modules without one; on CPU it also makes malloc keep freed memory, :mod:`srbench.perf.memory`,
    recorded in ``note``) and ``compile``
    (``torch.compile``; on CPU with inductor freezing, which folds BN and prepacks weights). A model without
    a torch module is timed through ``upscale``; these options do not apply to it and are recorded as
    False. A bare module is put in eval mode and moved to ``device`` (and to channels_last when asked) in
    place, as ``module.to`` does.
    """
    import torch

    from srbench.models.fast import count_params  # deferred: models.fast imports torch

    name, module, adapter = resolve_module(model)
    if adapter is not None and str(getattr(adapter, "device", device)) != str(device):
        raise ValueError(f"model {name!r} was built for device {adapter.device!r}, not {device!r}: build it "
                         f"with device={device!r} (srbench.registry.get_model(name, scale, device=...))")
    notes: list[str] = []
    if module is None:
        assert adapter is not None  # resolve_module returns one of the two
        if channels_last or compile or fused:
            notes.append("channels_last/compile/fused do not apply (not a torch module)")
        return PreparedModel(name, adapter.upscale, None, False, False, False, "; ".join(notes))
    module = module.eval().to(device)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    fn: Callable[[Any], Any] = module
    if is_cuda(device) and dtype == "fp32" and torch.backends.cudnn.allow_tf32:
        notes.append("cuDNN TF32 convolutions on (torch default); the roofline is the TF32 GEMM peak")
    is_fused = False
    if fused and not isinstance(module, Fusable):
        notes.append(f"not fused: {type(module).__name__} has no fused plan (srbench.interfaces.Fusable)")
    elif fused:
        try:
            fn = module.forward_plan(device=device, dtype=dtype)
            is_fused = True
        except FusionUnsupported as exc:
            notes.append(f"not fused: {exc}")
        if is_fused and not is_cuda(device):
            if memory.retain_freed_memory():  # large activations reuse heap pages instead of fresh mmaps
                notes.append("malloc retains freed memory (srbench.perf.memory)")
    compiled = False
    if compile:
        kwargs: dict[str, Any] = {}
        if compile_mode:
            kwargs["mode"] = compile_mode
        fn = torch.compile(fn, **kwargs)
        compiled = True
    return PreparedModel(name, fn, module, channels_last, compiled, is_fused, "; ".join(notes),
                         count_params(module))


def run_context(device: str, dtype: str) -> contextlib.ExitStack:
    """inference_mode + autocast (fp16/bf16) as one context manager."""
    import torch

    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    if dtype != "fp32":
        stack.enter_context(torch.autocast("cuda" if is_cuda(device) else "cpu", dtype=torch_dtype(dtype)))
    return stack


def compile_context(compiled: bool, device: str) -> Any:
    """Inductor freezing for compiled CPU inference (constant-folds BN into conv, prepacks oneDNN weights)."""
    if not (compiled and not is_cuda(device)):
        return contextlib.nullcontext()
    import torch._inductor.config as inductor_config

    return inductor_config.patch(freezing=True)
