"""The protocol record: how a run's numbers were computed, as one typed value.

Built from a ``RunConfig`` (and what the LPIPS loader found) by evaluation, written into run.json's
``protocol`` block (schema v1: the same keys and texts as before this type existed), and read back from
run.json by ``srbench check`` (is a baseline comparable?) and the report. Free-text descriptions are kept
verbatim: a changed description *is* a changed protocol until someone re-blesses the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from srbench.config import RunConfig

# Protocol fields whose difference makes numbers incomparable (checked by `srbench check`).
PROTOCOL_KEYS = ("modcrop", "lr", "quantisation", "crop_border", "colour", "grayscale", "psnr", "ssim")
LPIPS_KEYS = ("net", "version", "range")

LR_MATLAB = "MATLAB imresize bicubic (Keys a=-0.5, antialias, uint8)"
LR_OFFICIAL = "official LR files of the dataset"
GRAYSCALE = {"raw": "raw values, no Y transform",
             "replicate": "replicated to 3 channels first (EDSR/RCAN/BasicSR), then as RGB: MATLAB Y"}
NIQE = ("MATLAB niqe: pristine model (Mittal et al. 2013), rounded MATLAB Y, crop = scale, 96x96 blocks, "
        "gaussian 7x7 sigma 7/6, imresize 0.5")


@dataclass(frozen=True)
class Protocol:
    """One run's protocol. ``lpips`` is the LPIPS record: ``available``, ``net``, ``version``, ``range``,
    ``reason`` and, when the backbone was found, its path and sha256 and the lpips package version.
    ``niqe`` is set only for runs that computed NIQE (older run.json files have no such key)."""

    lr_source: str | None = "matlab"
    lr: str | None = LR_MATLAB
    modcrop: str | None = "scale"
    quantisation: str | None = "clamp [0,255] + round to uint8"
    crop_border: str | None = "scale"
    colour: str | None = "y-matlab"
    grayscale: str | None = GRAYSCALE["replicate"]
    psnr: str | None = "10 log10(255^2/MSE), float64, mean over images"
    ssim: str | None = "Wang et al. ssim_index.m: gaussian 11x11 sigma 1.5, valid, K1 .01 K2 .03"
    lpips: Mapping[str, Any] | str | None = field(default_factory=dict)
    niqe: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a newer or hand-made run.json

    @classmethod
    def from_config(cls, config: RunConfig, lpips_info: Mapping[str, Any]) -> Protocol:
        return cls(
            lr_source=config.lr_source,
            lr=LR_MATLAB if config.lr_source == "matlab" else LR_OFFICIAL,
            colour="y-matlab" if config.colour == "y" else "rgb",
            grayscale=GRAYSCALE[config.grayscale],
            lpips=dict(lpips_info),
            niqe=NIQE if "niqe" in config.metrics else None,
        )

    def to_json(self) -> dict[str, Any]:
        """run.json's ``protocol`` block (key order as schema v1 wrote it); absent (None) fields are left out,
        so a block read with :meth:`from_json` is written back as it was."""
        out: dict[str, Any] = {"modcrop": self.modcrop, "lr": self.lr, "lr_source": self.lr_source,
                               "quantisation": self.quantisation, "crop_border": self.crop_border,
                               "colour": self.colour, "grayscale": self.grayscale, "psnr": self.psnr,
                               "ssim": self.ssim,
                               "lpips": dict(self.lpips) if isinstance(self.lpips, Mapping) else self.lpips,
                               "niqe": self.niqe}
        out = {k: v for k, v in out.items() if v is not None}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, block: Mapping[str, Any]) -> Protocol:
        """A run.json ``protocol`` block, verbatim: absent fields are None, unknown keys kept in ``extra``."""
        lp = block.get("lpips")
        known = {"lr_source", "lr", "lpips", "niqe", *PROTOCOL_KEYS}
        return cls(lr_source=block.get("lr_source"), lr=block.get("lr"),
                   lpips=dict(lp) if isinstance(lp, Mapping) else lp, niqe=block.get("niqe"),
                   extra={k: v for k, v in block.items() if k not in known},
                   **{k: block.get(k) for k in PROTOCOL_KEYS if k != "lr"})

    @classmethod
    def from_run(cls, meta: Mapping[str, Any]) -> Protocol:
        """Read a run.json (as a dict) verbatim; absent fields are None. ``lr_source`` is the config's."""
        proto = meta.get("protocol") if isinstance(meta.get("protocol"), Mapping) else {}
        cfg = meta.get("config") if isinstance(meta.get("config"), Mapping) else {}
        return cls.from_json(proto).with_lr_source(cfg.get("lr_source"))

    def with_lr_source(self, lr_source: str | None) -> Protocol:
        """This protocol with the run config's ``lr_source`` (what comparisons use: older blocks lack it)."""
        return replace(self, lr_source=lr_source)

    @property
    def lpips_available(self) -> bool:
        return isinstance(self.lpips, Mapping) and self.lpips.get("available") is not False

    def comparable(self) -> dict[str, Any]:
        """What must match between a baseline and a run for their numbers to be comparable."""
        out: dict[str, Any] = {k: getattr(self, k) for k in PROTOCOL_KEYS}
        out["lr_source"] = self.lr_source
        lp = self.lpips
        out["lpips"] = {k: lp.get(k) for k in LPIPS_KEYS} if isinstance(lp, Mapping) else lp
        return out


def protocol(config: RunConfig, lpips_info: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol block of run.json for ``config`` (and what the LPIPS loader found)."""
    return Protocol.from_config(config, lpips_info).to_json()


def grayscale_convention(text: str | None) -> str | None:
    """``"raw"`` / ``"replicate"`` for a protocol's grayscale text (None when absent or unknown)."""
    return next((k for k, v in GRAYSCALE.items() if v == text), None)
