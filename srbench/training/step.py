"""One optimisation step of SRResNet-MSE or SRGAN; shared by the training loop and the benchmarks.

SRGAN (the paper alternates one D step and one G step):

1. ``sr = G(lr)`` once, with its graph;
2. D step on ``D(hr)`` (real) and ``D(sr.detach())`` (fake), as two forward passes so that the
   discriminator's BN sees real and fake batches separately (as the Keras seed article does);
3. G step with the *updated* D: ``content(sr, hr) + adv_weight * BCE(D(sr), real)``, reusing ``sr``
   (G has not changed since step 1, so recomputing it would give the same tensor). D's parameters are
   frozen for this backward (no wasted weight gradients) and D runs unwrapped (no DDP gradient sync).

The VGG content network is frozen and computes HR features without a graph (losses.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from srbench.interfaces import SRBenchError
from srbench.models.archs.seed import SeedDiscriminator, SeedGenerator
from srbench.models.archs.srresnet import Discriminator, SRResNet
from srbench.training.config import GAN_MODELS, SEED_MODELS, TrainConfig
from srbench.training.losses import VGGContentLoss, adversarial_loss, pixel_mse


def build_networks(cfg: TrainConfig) -> tuple[nn.Module, nn.Module | None, VGGContentLoss | None]:
    """Generator, discriminator (GANs only) and VGG content loss (when asked), seeded by ``cfg.seed``.

    ``seed-srresnet`` / ``seed-srgan``: the seed article's generator and discriminator
    (:mod:`srbench.models.archs.seed`), same scaling ([0, 1] LR in, tanh [-1, 1] out, D on [-1, 1]) and
    losses (MSE; VGG54 / 12.75 + 1e-3 x adversarial) as srbench's SRResNet/SRGAN."""
    torch.manual_seed(cfg.seed)
    seed_arch = cfg.model in SEED_MODELS
    g: nn.Module = SeedGenerator(cfg.scale) if seed_arch else SRResNet(cfg.scale)
    d: nn.Module | None = None
    if cfg.model in GAN_MODELS:
        d = SeedDiscriminator(cfg.crop) if seed_arch else Discriminator(cfg.crop)
    content = VGGContentLoss(cfg.content_loss, cfg.vgg_weights, seed=cfg.seed) if cfg.content_loss != "mse" else None
    return g, d, content


def make_optimizer(module: nn.Module, cfg: TrainConfig, lr: float) -> torch.optim.Adam:
    # fused: one kernel over all parameters (CPU and CUDA); 0.045 vs 0.165 CPU-s per G+D update with
    # foreach on the reference CPU (the discriminator's dense layer alone has 18.9 M parameters)
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(cfg.beta1, cfg.beta2), fused=True)


class StepRunner:
    """Runs steps on (lr [0, 1], hr [-1, 1]) batches; returns detached losses (``loss_g``, ``content``,
    and for SRGAN ``adv``, ``loss_d``)."""

    def __init__(self, G: nn.Module, D: nn.Module | None, content: VGGContentLoss | None,
                 g_opt: torch.optim.Optimizer, d_opt: torch.optim.Optimizer | None, *, adv_weight: float,
                 device: torch.device, amp: str = "none", compile: bool = False, distributed: bool = False) -> None:
        self.G, self.D, self.content, self.g_opt, self.d_opt = G, D, content, g_opt, d_opt
        self.adv_weight = adv_weight
        self.distributed = distributed
        g_run: nn.Module = G
        d_run: nn.Module | None = D
        if distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            g_run = DDP(G, device_ids=ids)
            d_run = DDP(D, device_ids=ids) if D is not None else None
        self.d_wrapped = d_run
        self.g_fwd: Callable[..., torch.Tensor] = g_run
        self.d_fwd: Callable[..., torch.Tensor] | None = d_run
        self.d_raw: Callable[..., torch.Tensor] | None = D
        if compile:
            self.g_fwd = torch.compile(g_run)
            if D is not None:
                self.d_fwd, self.d_raw = torch.compile(d_run), torch.compile(D)
        self.amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
        if self.amp_dtype is torch.float16 and device.type != "cuda":
            raise SRBenchError("amp = fp16 needs CUDA; on a CPU use amp = bf16 (if the CPU has fast bf16) or none")
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype is torch.float16 else None

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.amp_dtype)

    def _backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def _opt_step(self, opt: torch.optim.Optimizer) -> None:
        if self.scaler:
            self.scaler.step(opt)
        else:
            opt.step()

    def _content(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return (self.content(sr, hr) if self.content is not None else pixel_mse(sr.float(), hr)).float()

    def __call__(self, lr_b: torch.Tensor, hr_b: torch.Tensor) -> dict[str, torch.Tensor]:
        losses: dict[str, torch.Tensor] = {}
        with self._autocast():
            sr = self.g_fwd(lr_b)
        D, d_fwd, d_raw, d_opt = self.D, self.d_fwd, self.d_raw, self.d_opt
        if D is not None and d_fwd is not None and d_raw is not None and d_opt is not None:
            d_opt.zero_grad(set_to_none=True)
            no_sync = self.d_wrapped.no_sync() if self.distributed else contextlib.nullcontext()  # type: ignore[union-attr]
            with no_sync:  # gradients are averaged once, after the fake pass
                with self._autocast():
                    loss_real = adversarial_loss(d_fwd(hr_b).float(), True)
                self._backward(loss_real)
            with self._autocast():
                loss_fake = adversarial_loss(d_fwd(sr.detach()).float(), False)
            self._backward(loss_fake)
            self._opt_step(d_opt)
            losses["loss_d"] = (loss_real + loss_fake).detach()
            D.requires_grad_(False)
            try:
                with self._autocast():
                    c_loss = self._content(sr, hr_b)
                    adv = adversarial_loss(d_raw(sr).float(), True)
                    loss_g = c_loss + self.adv_weight * adv
                self.g_opt.zero_grad(set_to_none=True)
                self._backward(loss_g)
                self._opt_step(self.g_opt)
            finally:
                D.requires_grad_(True)
            losses.update(content=c_loss.detach(), adv=adv.detach(), loss_g=loss_g.detach())
        else:
            with self._autocast():
                loss_g = self._content(sr, hr_b)
            self.g_opt.zero_grad(set_to_none=True)
            self._backward(loss_g)
            self._opt_step(self.g_opt)
            losses.update(content=loss_g.detach(), loss_g=loss_g.detach())
        if self.scaler:
            self.scaler.update()
        return losses
