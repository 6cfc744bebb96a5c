"""Pre-upsampling and Y-only models (SRCNN, VDSR, DRRN, ...): the adapter helper of the adapter API.

Those papers' MATLAB test code does not feed the network the RGB LR image. It converts to YCbCr,
upsamples with MATLAB's bicubic ``imresize`` *before* the network (pre-upsampling), runs the network on
the Y channel only and puts the bicubic Cb and Cr back::

    im_l_ycbcr = im2double(rgb2ycbcr(im_l));          % uint8 LR -> uint8 YCbCr (rounded) -> [0, 1]
    im_b_ycbcr = imresize(im_l_ycbcr, up_scale, 'bicubic');
    im_h_y     = net(im_b_ycbcr(:, :, 1));
    im_h       = ycbcr2rgb(cat(3, im_h_y, im_b_ycbcr(:, :, 2:3)));

:class:`PreUpsampleAdapter` does exactly that with srbench's bit-exact MATLAB ``imresize`` and the MATLAB
``rgb2ycbcr``/``ycbcr2rgb`` coefficients (float64 arithmetic; the uint8 rounding of ``rgb2ycbcr`` on a uint8
image is reproduced). ``y_only=False`` feeds the network the bicubic-upsampled RGB image instead;
``pre_upsample=False`` is for Y-only networks that upscale themselves (the Y of the LR image in, a
``scale`` times larger Y out, CbCr still bicubic).

The harness scores PSNR/SSIM on the Y channel of the recombined RGB image, as usual: with Y-only models the
recombination ``ycbcr2rgb -> rgb2ycbcr`` gives back the network's Y up to the 8-bit rounding of the RGB image,
which is what the MATLAB scripts score too when they write the RGB result.

:func:`srbench.models.files.checkpoint.build_srcnn` is the shipped example (SRCNN 9-1-5, Dong et al. 2014;
the network is in :mod:`srbench.models.archs.detect`). srbench has no SRCNN weights, so it is not a built-in
model name: use it with your weights as ``file:srcnn.pth`` (detected automatically) or from Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from srbench.data.imresize import imresize
from srbench.interfaces import ModelError, ModelInfo
from srbench.models.inputs import check_lr

if TYPE_CHECKING:
    import torch

# MATLAB rgb2ycbcr for R, G, B in [0, 1]: ycbcr = OFFSET + MATRIX @ rgb, on the [0, 1] scale.
MATRIX = np.array([[65.481, 128.553, 24.966],
                   [-37.797, -74.203, 112.0],
                   [112.0, -93.786, -18.214]], dtype=np.float64) / 255.0
OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64) / 255.0
INVERSE = np.linalg.inv(MATRIX)  # MATLAB's ycbcr2rgb inverts the same matrix


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` of float RGB in [0, 1], shape (..., 3, H, W) -> YCbCr in [0, 1] units."""
    if rgb.ndim < 3 or rgb.shape[-3] != 3:
        raise ValueError(f"rgb_to_ycbcr expects (..., 3, H, W), got shape {rgb.shape}")
    return np.einsum("ij,...jhw->...ihw", MATRIX, rgb.astype(np.float64)) + OFFSET[:, None, None]


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """MATLAB ``ycbcr2rgb`` of float YCbCr in [0, 1] units, shape (..., 3, H, W) -> RGB (not clamped)."""
    if ycbcr.ndim < 3 or ycbcr.shape[-3] != 3:
        raise ValueError(f"ycbcr_to_rgb expects (..., 3, H, W), got shape {ycbcr.shape}")
    return np.einsum("ij,...jhw->...ihw", INVERSE, ycbcr.astype(np.float64) - OFFSET[:, None, None])


def _bicubic(chw: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB imresize(x, scale, 'bicubic') of a float (C, H, W) image, float64, nothing rounded."""
    return imresize(np.ascontiguousarray(chw.transpose(1, 2, 0)), scale).transpose(2, 0, 1)


class PreUpsampleAdapter:
    """SRModel around a network that wants the bicubic-upsampled image and/or only the Y channel.

    ``network`` is a torch module (or callable) mapping float32 NCHW to float32 NCHW on ``device``: one
    channel (Y, [0, 1] units, i.e. MATLAB's ``im2double`` of the uint8 Y) when ``y_only``, else RGB; of the
    same size when ``pre_upsample``, else ``scale`` times larger. ``module`` is None on purpose: the
    network alone does not take srbench's RGB input, so the throughput pass times ``upscale`` (the
    bicubic and colour conversions are part of these models' cost). ``network`` is the torch module.
    """

    def __init__(self, name: str, scale: int, network: Any, *, device: str = "cpu", y_only: bool = True,
                 pre_upsample: bool = True, info: ModelInfo | None = None) -> None:
        if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
            raise ModelError(f"{name}: scale must be an integer >= 1, got {scale!r}")
        self.name = name
        self.scale = scale
        self.device = device
        self.network = network
        self.module = None
        self.y_only = y_only
        self.pre_upsample = pre_upsample
        self._info = info or ModelInfo(name=name)

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """float32 RGB NCHW [0, 1] (N, 3, h, w) -> float32 RGB NCHW (N, 3, h*s, w*s), see the module doc."""
        import torch  # deferred: importing the colour conversions does not import torch

        check_lr(self.name, lr)
        x = lr.detach().to("cpu", torch.float64).numpy()
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{self.name}: the input contains NaN or infinite values")
        s = self.scale
        outs = []
        for im in x:  # (3, h, w), one image at a time: imresize is per image
            if self.y_only:
                # rgb2ycbcr on the uint8 LR returns uint8 in MATLAB (rounded half away from zero), then im2double
                u8 = np.floor(np.clip(im, 0.0, 1.0) * 255.0 + 0.5)
                ycc = np.floor(rgb_to_ycbcr(u8 / 255.0) * 255.0 + 0.5) / 255.0
                up = _bicubic(ycc, s) if s > 1 else ycc
                net_in = (up if self.pre_upsample else ycc)[:1]
            else:
                up = _bicubic(im, s) if (self.pre_upsample and s > 1) else im
                net_in = up
            t = torch.from_numpy(np.ascontiguousarray(net_in, dtype=np.float32))[None].to(self.device)
            with torch.inference_mode():
                y = self.network(t)
            if not isinstance(y, torch.Tensor):
                raise ModelError(f"{self.name}: the network returned {type(y).__name__}, expected a tensor")
            want = (1, net_in.shape[0], *(up.shape[1:] if self.y_only or self.pre_upsample else
                                          (im.shape[1] * s, im.shape[2] * s)))
            if tuple(y.shape) != want:
                raise ModelError(f"{self.name}: the network returned shape {tuple(y.shape)}, expected {want}")
            y64 = y[0].detach().to("cpu", torch.float64).numpy()
            if self.y_only:
                rgb = ycbcr_to_rgb(np.concatenate([y64, up[1:]], axis=0))
            else:
                rgb = y64
            outs.append(rgb)
        return torch.from_numpy(np.stack(outs).astype(np.float32)).to(lr.device)

    def info(self) -> ModelInfo:
        return self._info
