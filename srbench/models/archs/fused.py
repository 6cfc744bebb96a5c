"""A fused inference plan for SRResNet-shaped networks: same outputs, far fewer memory passes.

Exact algebraic rewrites only (outputs agree with the module to float rounding, checked in the tests):

- BN folded into the preceding convolution (``srbench.models.fast.fold_batchnorm``).
- PReLU with one shared slope == leaky ReLU with that slope, applied as a oneDNN convolution post-op; it
  commutes with PixelShuffle, so each upsampling stage's PReLU moves before its shuffle, into the conv.
- Each residual add (block skip, long skip) is a oneDNN binary ``add`` post-op of the convolution.
- The last PixelShuffle(f) + k x k tail convolution (64 -> 3 channels at the output resolution, where
  oneDNN runs at a fraction of peak because 3 output channels cannot fill a vector register tile) is
  rewritten as one convolution at the lower resolution, 64 f^2 -> 3 f^2 channels with a ceil-sized
  kernel, followed by PixelShuffle(f) of the 3 f^2 channel output. Same arithmetic (plus multiplies by
  structural zeros), dense enough to run near peak.
- ``tanh`` (bare generator) or ``(tanh(z) + 1) / 2`` (srbench's [0, 1] wrapper) is a post-op of that
  convolution; the latter equals ``sigmoid(2 z)``, so the weights are doubled and oneDNN applies sigmoid.
- PixelShuffle of channels_last tensors is one contiguous-chunk copy: the upsampling convolution's output
  channels are permuted to (sub-row, sub-column, channel) order so each output pixel is a 64-float run.

On CPU the convolutions call oneDNN directly (``torch.ops.mkldnn._convolution_pointwise`` with weights
prepacked once, the same kernels torch.compile's inductor emits); on other devices the same plan runs
with ``torch.nn.functional`` ops. FLOPs and parameters are still reported from the original module.

The networks ask for their plan (``SRResNet.forward_plan``, ``UnitRange.forward_plan``: the
:class:`srbench.interfaces.Fusable` protocol); this module knows the plan, not the network classes.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from srbench.interfaces import Fusable, FusionUnsupported
from srbench.models.fast import fold_batchnorm

PACKED_SHAPES = 4  # input shapes whose prepacked weights each convolution keeps (LRU)
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
OUTPUTS = ("tanh", "unit")  # the bare generator's tanh, or srbench's (tanh + 1) / 2


def _slope(prelu: nn.Module, where: str) -> float:
    if not isinstance(prelu, nn.PReLU) or prelu.weight.numel() != 1:
        raise FusionUnsupported(f"{where}: expected a PReLU with one shared slope, got {prelu}")
    return float(prelu.weight.detach().reshape(()).item())


def _conv(m: nn.Module, where: str) -> nn.Conv2d:
    if not isinstance(m, nn.Conv2d) or m.groups != 1 or m.stride != (1, 1) or m.dilation != (1, 1) \
            or m.padding_mode != "zeros" or m.padding != (m.kernel_size[0] // 2, m.kernel_size[1] // 2):
        raise FusionUnsupported(f"{where}: expected a stride-1 'same' Conv2d, got {m}")
    return m


def fold_tail(up_conv_out: int, tail: nn.Conv2d, factor: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Weights of the low-resolution convolution equal to ``tail(PixelShuffle(factor)(q))``.

    ``q`` has ``up_conv_out = C f^2`` channels (PixelShuffle's order: channel ``c f^2 + a f + b``
    becomes sub-pixel (a, b) of channel c). Returns (weight, bias, padding) of a conv mapping q to
    ``3 f^2`` channels, output channel ``o f^2 + a f + b`` = tail output channel o at sub-pixel (a, b),
    so PixelShuffle(f) of its output is the tail's output. Zero padding maps to zero padding exactly.
    """
    w = tail.weight.detach()
    out_c, in_c, kh, kw = w.shape
    f = factor
    if in_c * f * f != up_conv_out:
        raise FusionUnsupported(f"tail expects {in_c} channels but the shuffle gives {up_conv_out // (f * f)}")
    ry, rx = kh // 2, kw // 2
    py = max(abs(math.floor((a + d) / f)) for a in range(f) for d in (-ry, ry))
    px = max(abs(math.floor((b + d) / f)) for b in range(f) for d in (-rx, rx))
    new = torch.zeros(out_c * f * f, in_c * f * f, 2 * py + 1, 2 * px + 1, dtype=w.dtype, device=w.device)
    for a in range(f):
        for dy in range(-ry, ry + 1):
            ky, sa = math.floor((a + dy) / f) + py, (a + dy) % f
            for b in range(f):
                for dx in range(-rx, rx + 1):
                    kx, sb = math.floor((b + dx) / f) + px, (b + dx) % f
                    rows = torch.arange(out_c, device=w.device) * f * f + a * f + b
                    cols = torch.arange(in_c, device=w.device) * f * f + sa * f + sb
                    new[rows[:, None], cols[None, :], ky, kx] = w[:, :, dy + ry, dx + rx]
    bias = tail.bias.detach() if tail.bias is not None else torch.zeros(out_c, dtype=w.dtype, device=w.device)
    new_bias = bias.repeat_interleave(f * f)
    if py != px:
        raise FusionUnsupported("non-square tail kernels are not supported")
    return new, new_bias, py


def _sub_major(weight: torch.Tensor, bias: torch.Tensor, f: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Permute a conv's output channels from PixelShuffle order (c, a, b) to (a, b, c)."""
    cf2 = weight.shape[0]
    c = cf2 // (f * f)
    perm = torch.arange(cf2).view(c, f, f).permute(1, 2, 0).reshape(-1)
    return weight[perm].contiguous(), bias[perm].contiguous()


def _shuffle_sub_major(y: torch.Tensor, f: int) -> torch.Tensor:
    """PixelShuffle(f) of a tensor whose channels are in (a, b, c) order, as one channels_last copy."""
    n, cf2, h, w = y.shape
    c = cf2 // (f * f)
    nhwc = y.permute(0, 2, 3, 1)  # a view; contiguous when y is channels_last
    out = nhwc.reshape(n, h, w, f, f, c).permute(0, 1, 3, 2, 4, 5).reshape(n, h * f, w * f, c)
    return out.permute(0, 3, 1, 2)


class _FConv:
    """One convolution of the plan with its post-ops, oneDNN-prepacked on CPU."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, padding: int, onednn: bool,
                 unary: str = "none", scalar: float | None = None) -> None:
        self.padding = padding
        self.unary = unary
        self.scalar = scalar
        self.onednn = onednn
        self.bias = bias.contiguous()
        self.weight = weight.contiguous()
        # oneDNN picks its weight layout for an input shape: keep the layouts of the few most recent
        # shapes (a dataset of many image sizes must not accumulate one weight copy per size)
        self._packed: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()

    def _w(self, shape: tuple[int, ...]) -> torch.Tensor:
        w = self._packed.get(shape)
        if w is None:
            p = [self.padding] * 2
            w = torch.ops.mkldnn._reorder_convolution_weight(self.weight, p, [1, 1], [1, 1], 1, list(shape))
            self._packed[shape] = w
            while len(self._packed) > PACKED_SHAPES:
                self._packed.popitem(last=False)
        else:
            self._packed.move_to_end(shape)
        return w

    def __call__(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        p = [self.padding] * 2
        if self.onednn:
            w = self._w(tuple(x.shape))
            if add is not None:
                un = None if self.unary == "none" else self.unary
                return torch.ops.mkldnn._convolution_pointwise.binary(
                    x, add, w, self.bias, p, [1, 1], [1, 1], 1, "add", None, un,
                    [] if self.scalar is None else [self.scalar], None)
            return torch.ops.mkldnn._convolution_pointwise(
                x, w, self.bias, p, [1, 1], [1, 1], 1, self.unary, [] if self.scalar is None else [self.scalar], "")
        y = F.conv2d(x, self.weight, self.bias, padding=self.padding)
        if add is not None:
            y = y + add
        if self.unary == "leaky_relu":
            y = F.leaky_relu(y, self.scalar)
        elif self.unary == "sigmoid":
            y = torch.sigmoid(y)
        elif self.unary == "tanh":
            y = torch.tanh(y)
        return y


class FusedSRResNet:
    """Callable NCHW float32 LR -> the same output as the network it was built from (see module doc).

    ``net`` is an SRResNet-shaped network (head, blocks, post, upsample, tail; checked layer by layer);
    ``output`` "tanh" reproduces its tanh output, "unit" srbench's ``(tanh + 1) / 2``.
    Inputs are converted to channels_last (and to ``dtype``); outputs are float32 NCHW (channels_last
    memory). Not an nn.Module: it holds prepacked weights and is for inference only.
    """

    def __init__(self, net: nn.Module, *, output: str = "tanh", device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32):
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        mode = output
        net = fold_batchnorm(net).to(device=device, dtype=torch.float32)
        dev = torch.device(device)
        self.onednn = dev.type == "cpu" and torch.backends.mkldnn.is_available()
        self.dtype = dtype
        self.mode = mode
        cast = {"device": dev, "dtype": dtype}

        def conv(m: nn.Module, where: str, unary: str = "none", scalar: float | None = None) -> _FConv:
            c = _conv(m, where)
            b = c.bias if c.bias is not None else torch.zeros(c.out_channels)
            return _FConv(c.weight.detach().to(**cast), b.detach().to(**cast), c.padding[0], self.onednn,
                          unary, scalar)

        head = list(net.head)
        if len(head) != 2:
            raise FusionUnsupported("head: expected conv + PReLU")
        self.head = conv(head[0], "head", "leaky_relu", _slope(head[1], "head"))
        self.blocks: list[tuple[_FConv, _FConv]] = []
        for i, blk in enumerate(net.blocks):
            body = [m for m in blk.body if not isinstance(m, nn.Identity)]
            if len(body) != 3:
                raise FusionUnsupported(f"block {i}: expected conv, PReLU, conv after BN folding, got {body}")
            self.blocks.append((conv(body[0], f"block {i}", "leaky_relu", _slope(body[1], f"block {i}")),
                                conv(body[2], f"block {i}")))
        post = [m for m in net.post if not isinstance(m, nn.Identity)]
        if len(post) != 1:
            raise FusionUnsupported("post: expected one conv after BN folding")
        self.post = conv(post[0], "post")
        ups = list(net.upsample)
        if len(ups) % 3 or not ups:
            raise FusionUnsupported("upsample: expected (conv, PixelShuffle, PReLU) stages")
        self.ups: list[tuple[_FConv, int]] = []
        stages = [ups[i:i + 3] for i in range(0, len(ups), 3)]
        for i, (c, ps, pr) in enumerate(stages):
            if not isinstance(ps, nn.PixelShuffle):
                raise FusionUnsupported(f"upsample stage {i}: expected PixelShuffle, got {ps}")
            f = ps.upscale_factor
            c = _conv(c, f"upsample {i}")
            slope = _slope(pr, f"upsample {i}")
            w, b = c.weight.detach(), c.bias.detach() if c.bias is not None else torch.zeros(c.out_channels)
            if i < len(stages) - 1:
                w, b = _sub_major(w, b, f)
            self.ups.append((_FConv(w.to(**cast), b.to(**cast), c.padding[0], self.onednn, "leaky_relu", slope), f))
        last_f = self.ups[-1][1]
        tail = _conv(net.tail, "tail")
        tw, tb, tp = fold_tail(stages[-1][0].out_channels, tail, last_f)
        if mode == "unit":  # (tanh(z) + 1) / 2 == sigmoid(2 z)
            tw, tb, unary = tw * 2.0, tb * 2.0, "sigmoid"
        else:
            unary = "tanh"
        self.tail = _FConv(tw.to(**cast), tb.to(**cast), tp, self.onednn, unary)
        self.tail_factor = last_f

    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        if lr.ndim != 4 or lr.shape[1] != 3:
            raise ValueError(f"fused SRResNet: expected an RGB NCHW tensor, got shape {tuple(lr.shape)}")
        with torch.inference_mode():
            x = lr.to(self.dtype).contiguous(memory_format=torch.channels_last)
            h = self.head(x)
            y = h
            for c1, c2 in self.blocks:
                y = c2(c1(y), add=y)
            y = self.post(y, add=h)
            for i, (c, f) in enumerate(self.ups):
                y = c(y)
                if i < len(self.ups) - 1:
                    y = _shuffle_sub_major(y, f)
            y = F.pixel_shuffle(self.tail(y), self.tail_factor)
            return y.float()


def build_plan(net: nn.Module, *, output: str, device: str | torch.device = "cpu",
               dtype: str = "fp32") -> FusedSRResNet:
    """The fused plan of the SRResNet-shaped ``net`` computing in ``dtype`` ("fp32", "bf16", "fp16"); what
    the networks' ``forward_plan`` returns. Raises FusionUnsupported naming the layer that does not fit."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return FusedSRResNet(net, output=output, device=device, dtype=DTYPES[dtype])


def fuse(module: nn.Module, *, device: str | torch.device = "cpu",
         dtype: str = "fp32") -> Callable[[torch.Tensor], torch.Tensor]:
    """The fused plan of an SRResNet (bare, or srbench's [0, 1] wrapper as in the adapters' ``.module``):
    the module's own ``forward_plan`` (:class:`srbench.interfaces.Fusable`).

    Raises FusionUnsupported (a ValueError) for anything else, naming what did not match.
    """
    if not isinstance(module, Fusable):
        raise FusionUnsupported(
            f"{type(module).__name__} is not an SRResNet (or srbench's [0, 1] wrapper of one)")
    return module.forward_plan(device=device, dtype=dtype)
