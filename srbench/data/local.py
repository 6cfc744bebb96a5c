"""Which catalogue datasets are on this machine, and where: ``srbench datasets list`` and ``srbench doctor``.

The places are the ones :func:`srbench.data.sources.resolve_dataset` reads, in its order: ``--data-dir``,
``$SRBENCH_DATA_DIR``, then the download cache (:func:`srbench.data.fetch.cache_dir`), each in the
benchmark layout (``Set5/HR/*.png``). Listing reads directory entries only: no image is decoded, nothing
is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from srbench.data.fetch import STAMP, cache_dir
from srbench.data.io import list_images
from srbench.data.manifest import Manifest, list_manifests


@dataclass(frozen=True)
class LocalCopy:
    """A dataset found locally: its HR folder, how many images it holds, which root it was found under
    (``--data-dir``, ``$SRBENCH_DATA_DIR`` or ``cache``) and whether ``srbench datasets fetch`` verified it."""

    name: str
    hr_dir: Path
    n_images: int
    root: str
    verified: bool


def data_roots(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """(label, folder) of every place datasets are looked for, in resolution order, without duplicates."""
    roots: list[tuple[str, Path]] = []
    if data_dir:
        roots.append(("--data-dir", Path(data_dir).expanduser()))
    if os.environ.get("SRBENCH_DATA_DIR"):
        roots.append(("$SRBENCH_DATA_DIR", Path(os.environ["SRBENCH_DATA_DIR"]).expanduser()))
    roots.append(("cache", cache_dir()))
    out: list[tuple[str, Path]] = []
    for label, path in roots:
        if all(path != p for _, p in out):
            out.append((label, path))
    return out


def find_local(manifest: Manifest, data_dir: str | os.PathLike[str] | None = None) -> LocalCopy | None:
    """The copy of ``manifest``'s dataset that a run would use, or None when it would be downloaded."""
    for label, root in data_roots(data_dir):
        folder = root / manifest.folder
        if (folder / "HR").is_dir():
            return LocalCopy(manifest.name, folder / "HR", len(list_images(folder / "HR")), label,
                             (folder / STAMP).is_file())
    return None


def local_datasets(data_dir: str | os.PathLike[str] | None = None) -> dict[str, LocalCopy | None]:
    """Every catalogue dataset -> its local copy (None: not on this machine)."""
    return {m.name: find_local(m, data_dir) for m in list_manifests()}
