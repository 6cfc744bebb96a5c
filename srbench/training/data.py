"""Training data: random HR crops with their LR, reproducible as a pure function of (seed, step).

Each HR image is modcropped and downscaled **once** with srbench's MATLAB imresize (the LR is cached per
image, in memory, not recomputed per crop); a crop is then an aligned pair of windows of the cached LR and
HR. Because every batch depends only on ``(seed, step)``, resuming at step ``k`` replays exactly the batches
an uninterrupted run would have seen, and DDP ranks take disjoint slices of the same global batch, so the
global batch is identical for any number of ranks.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from srbench.data.imresize import bicubic_lr, modcrop
from srbench.interfaces import DatasetError

log = logging.getLogger(__name__)


def resolve_hr_files(specs: tuple[str, ...], data_dir: str | None = None) -> list[Path]:
    """HR image files of the training datasets. A spec is a catalogue name (``div2k-train``), ``folder:PATH``
    or a plain path to a folder."""
    from srbench.data.sources import resolve_dataset  # deferred: it imports PIL

    files: list[Path] = []
    for spec in specs:
        if not spec.startswith("folder:") and os.path.isdir(spec):
            spec = f"folder:{spec}"
        source = resolve_dataset(spec, data_dir=data_dir)
        for image in source.images:
            if image.path is None:
                raise DatasetError(f"training dataset {spec!r}: built-in samples are not training data")
            files.append(image.path)
    if not files:
        raise DatasetError(f"no training images in {list(specs)}")
    return files


@dataclass(frozen=True)
class Pair:
    lr: np.ndarray  # uint8 HWC, C = 3
    hr: np.ndarray  # uint8 HWC, modcropped, (lr.h * scale, lr.w * scale, 3)


def load_pairs(files: list[Path], scale: int, crop: int) -> list[Pair]:
    """Read, modcrop and downscale every image once. Grayscale images are replicated to RGB; images
    smaller than the crop are skipped (with a log line)."""
    from srbench.data.io import read_image  # deferred: it imports PIL

    pairs: list[Pair] = []
    for path in files:
        hr = read_image(path)
        if hr.shape[2] == 1:
            hr = np.repeat(hr, 3, axis=2)
        if min(hr.shape[:2]) < crop:
            log.warning("%s: %dx%d is smaller than the %d px crop, skipped", path, hr.shape[1], hr.shape[0], crop)
            continue
        hr = np.ascontiguousarray(modcrop(hr, scale))
        pairs.append(Pair(np.ascontiguousarray(bicubic_lr(hr, scale)), hr))
    if not pairs:
        raise DatasetError(f"no training image is at least {crop}x{crop} pixels")
    return pairs


def _augment(a: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 dihedral transforms: bit 0 horizontal flip, bits 1-2 the number of 90-degree turns."""
    if mode & 1:
        a = a[:, ::-1]
    return np.rot90(a, mode >> 1)


class StepBatches(torch.utils.data.Dataset):
    """Item ``k`` is this rank's slice of the global batch of step ``start + k``.

    Returns ``(lr, hr)`` float32 NCHW: LR in [0, 1], HR in [-1, 1] (the paper's ranges). Sample ``i`` of
    step ``s`` draws its image, crop position and transform from ``np.random.default_rng([seed, s, i])``.
    """
    def __init__(self, pairs: list[Pair], *, scale: int, crop: int, global_batch: int, seed: int, start: int,
                 stop: int, rank: int = 0, world: int = 1, augment: bool = True) -> None:
        if global_batch % world:
            raise ValueError(f"global batch {global_batch} is not divisible by the {world} DDP ranks")
        self.pairs, self.scale, self.crop = pairs, scale, crop
        self.seed, self.start, self.stop, self.augment = seed, start, stop, augment
        per = global_batch // world
        self.indices = range(rank * per, (rank + 1) * per)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def sample(self, step: int, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, step, i])
        pair = self.pairs[int(rng.integers(len(self.pairs)))]
        lc = self.crop // self.scale
        h, w = pair.lr.shape[:2]
        y, x = int(rng.integers(h - lc + 1)), int(rng.integers(w - lc + 1))
        s = self.scale
        lr = pair.lr[y:y + lc, x:x + lc]
        hr = pair.hr[y * s:(y + lc) * s, x * s:(x + lc) * s]
        if self.augment:
            mode = int(rng.integers(8))
            lr, hr = _augment(lr, mode), _augment(hr, mode)
        return lr, hr

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        lrs, hrs = zip(*(self.sample(step, i) for i in self.indices), strict=True)
        lr = torch.from_numpy(np.stack(lrs)).permute(0, 3, 1, 2).float().div_(255.0)
        hr = torch.from_numpy(np.stack(hrs)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
        return lr.contiguous(), hr.contiguous()

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch(self.start + k)


def make_loader(dataset: StepBatches, workers: int) -> torch.utils.data.DataLoader:
    """A multi-worker DataLoader over whole batches (``batch_size=None``), in step order."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=None, shuffle=False, num_workers=workers,
        prefetch_factor=4 if workers else None, persistent_workers=False,
    )
