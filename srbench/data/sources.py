"""Where HR images come from, and how they become protocol pairs.

A dataset spec is one of:

- ``samples``: the built-in offline set, colour photographs shipped with scikit-image;
- a catalogue name (``set5``, ``set14``, ``b100``, ``urban100``, ``div2k-valid``, ``div2k-train``): looked up
  in ``--data-dir``, then ``$SRBENCH_DATA_DIR``, in the benchmark layout (``Set5/HR/*.png``), and otherwise
  downloaded and verified into the cache by :mod:`srbench.data.catalogue`;
- ``folder:PATH``: any folder of HR images.

LR images are always regenerated from the modcropped HR with srbench's MATLAB imresize, unless the user
asks for the dataset's official LR (``lr_source="official"``, read from ``LR_bicubic/X<s>/<name>x<s>.png``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from srbench.data import catalogue
from srbench.data.imresize import bicubic_lr, modcrop
from srbench.data.io import list_images, read_image
from srbench.interfaces import DatasetError, ImageError, ImagePair

SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")
LR_SOURCES = ("matlab", "official")

@dataclass(frozen=True)
class HRImage:
    """One HR image of a dataset: a file, or a built-in sample."""
    id: str
    path: Path | None = None
    sample: str | None = None
    problem: str | None = None  # why this image cannot be used (e.g. files sharing its id): load() raises it

    @property
    def origin(self) -> str:
        return str(self.path) if self.path is not None else f"skimage.data.{self.sample}"

    def load(self, *, max_pixels: int | None = None) -> np.ndarray:
        """uint8 HWC; raises ImageError naming the file (``max_pixels``: see ``read_image``)."""
        if self.problem is not None:
            raise ImageError(self.origin, self.problem)
        if self.path is not None:
            return read_image(self.path, max_pixels=max_pixels)
        import skimage.data

        image = getattr(skimage.data, str(self.sample))()
        return image if image.ndim == 3 else image[:, :, None]


@dataclass(frozen=True)
class DatasetSource:
    """A resolved dataset: its label, its HR images, and where its official LR lives (if anywhere)."""
    name: str
    images: tuple[HRImage, ...]
    origin: str
    lr_root: Path | None = None  # folder holding LR_bicubic/X<s>/
    catalogue: str | None = None  # manifest name when it came from the catalogue
    notes: tuple[str, ...] = field(default_factory=tuple)


def _search_roots(data_dir: str | os.PathLike[str] | None) -> list[Path]:
    roots = [Path(data_dir)] if data_dir else []
    if os.environ.get("SRBENCH_DATA_DIR"):
        roots.append(Path(os.environ["SRBENCH_DATA_DIR"]))
    return roots


def _from_folder(name: str, hr_dir: Path, lr_root: Path | None, catalogue: str | None) -> DatasetSource:
    files = list_images(hr_dir)
    if not files:
        raise DatasetError(f"dataset {name!r}: no images in {hr_dir}")
    return DatasetSource(name, _unique_images(files), str(hr_dir), lr_root, catalogue)


def _unique_images(files: list[Path]) -> tuple[HRImage, ...]:
    """One HRImage per id (the file stem). Files whose stems are equal ignoring case (``a.png``, ``a.PNG``,
    ``a.jpg``, ``A.png``) would merge into one image: they become one image with an error naming them all,
    so no result is silently mixed, and every other image is evaluated."""
    groups: dict[str, list[Path]] = {}
    for p in files:
        groups.setdefault(p.stem.casefold(), []).append(p)
    images = []
    for group in groups.values():
        if len(group) == 1:
            images.append(HRImage(group[0].stem, path=group[0]))
        else:
            names = ", ".join(p.name for p in group)
            images.append(HRImage(group[0].stem, path=group[0],
                                  problem=f"{len(group)} files share the image id {group[0].stem!r} ({names}); "
                                          "rename all but one"))
    return tuple(images)


def _folder_name(folder: Path) -> str:
    """A folder dataset's name: the folder's, or its parent's for a benchmark-layout ``.../Set5/HR``."""
    folder = folder.resolve() if folder.name in ("", ".", "..") else folder
    if folder.name.upper() == "HR" and folder.parent.name:
        return folder.parent.name
    return folder.name or str(folder)


def resolve_dataset(
    spec: str, *, data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> DatasetSource:
    """Turn a dataset spec into a :class:`DatasetSource`; raise DatasetError saying what to do."""
    if spec == "samples":
        return DatasetSource("samples", tuple(HRImage(n, sample=n) for n in SAMPLES), "scikit-image data")
    if spec.startswith("folder:"):
        folder = Path(spec.removeprefix("folder:")).expanduser()
        if not folder.is_dir():
            raise DatasetError(f"dataset {spec!r}: folder {folder} does not exist")
        hr_dir = folder / "HR" if (folder / "HR").is_dir() else folder
        lr_root = folder if (folder / "LR_bicubic").is_dir() else None
        return _from_folder(_folder_name(folder), hr_dir, lr_root, None)

    try:
        manifest = catalogue.load_manifest(spec)  # knows aliases (bsd100 -> b100) and says "did you mean"
    except DatasetError as exc:
        raise DatasetError(f"{exc} Also: samples, folder:PATH.") from None
    for root in _search_roots(data_dir):
        if (root / manifest.folder / "HR").is_dir():
            return _from_folder(manifest.name, root / manifest.folder / "HR", root / manifest.folder, manifest.name)
    if not download:
        raise DatasetError(
            f"dataset {manifest.name!r} not found locally (looked for {manifest.folder}/HR under --data-dir and "
            "$SRBENCH_DATA_DIR)"
        )
    root = catalogue.fetch(manifest)
    return _from_folder(manifest.name, root / "HR", root, manifest.name)


def make_pair(
    image: HRImage,
    scale: int,
    *,
    lr_source: str = "matlab",
    lr_root: Path | None = None,
    hr: np.ndarray | None = None,
    max_pixels: int | None = None,
) -> ImagePair:
    """HR -> modcrop -> LR (MATLAB bicubic, or the official file). Raises ImageError naming the file.

    ``hr`` is the already loaded full-size HR image, when the caller has it (else it is read, refused
    when it has more than ``max_pixels`` pixels).
    """
    hr_full = image.load(max_pixels=max_pixels) if hr is None else hr
    h, w = hr_full.shape[:2]
    if h < scale or w < scale:
        raise ImageError(image.origin, f"image {w}x{h} is smaller than the scale {scale}")
    hr = modcrop(hr_full, scale)
    if lr_source == "matlab":
        lr = bicubic_lr(hr, scale)
    elif lr_source == "official":
        if lr_root is None:
            raise ImageError(image.origin, "official LR requested but this dataset has no LR_bicubic folder")
        lr_path = lr_root / "LR_bicubic" / f"X{scale}" / f"{image.id}x{scale}.png"
        lr = read_image(lr_path, max_pixels=max_pixels)
        want = (hr.shape[0] // scale, hr.shape[1] // scale)
        if lr.shape[:2] != want or lr.shape[2] != hr.shape[2]:
            raise ImageError(
                str(lr_path),
                f"wrong-sized LR/HR pair: LR is {lr.shape[1]}x{lr.shape[0]}x{lr.shape[2]} but the modcropped HR "
                f"{hr.shape[1]}x{hr.shape[0]}x{hr.shape[2]} needs {want[1]}x{want[0]}x{hr.shape[2]} at x{scale}",
            )
    else:
        raise ValueError(f"lr_source must be one of {LR_SOURCES}, got {lr_source!r}")
    return ImagePair(image.id, lr, hr, scale, image.origin)


def export_dataset(
    spec: str, scale: int, out: Path, *, data_dir: str | os.PathLike[str] | None = None,
    max_pixels: int | None = None,
) -> tuple[int, list[str]]:
    """Write ``out/HR/<id>.png`` (modcropped) and ``out/LR_bicubic/X<s>/<id>x<s>.png`` (srbench's LR).

    Returns the number of images written and the error messages of those that failed (images sharing
    an id, images over ``max_pixels``, unreadable files): every written image has its own file.
    """
    from srbench.data.io import write_image  # deferred: it imports PIL

    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:  # once, not once per image
        raise ValueError(f"export: scale must be a positive integer, got {scale!r}")
    source = resolve_dataset(spec, data_dir=data_dir)
    n, errors = 0, []
    for image in source.images:
        try:
            pair = make_pair(image, scale, max_pixels=max_pixels)
        except (ImageError, ValueError) as exc:
            errors.append(str(exc))
            continue
        write_image(out / "HR" / f"{image.id}.png", pair.hr)
        write_image(out / "LR_bicubic" / f"X{scale}" / f"{image.id}x{scale}.png", pair.lr)
        n += 1
    return n, errors


def unique_source(spec: str, source: DatasetSource, names: dict[str, str]) -> tuple[DatasetSource | None, str | None]:
    """The same data twice (``set5,set5``, ``b100,bsd100``) runs once: (None, why). Two different datasets with
    one name (``folder:a/imgs,folder:b/imgs``) get ``imgs`` and ``imgs-2``, in the order given (stable), with a
    note saying so. ``names`` (resolved origin -> name used) is updated."""
    if source.origin in names:
        return None, f"dataset {spec!r} is {names[source.origin]!r} again ({source.origin}); evaluated once"
    name, n = source.name, 1
    while name in names.values():
        n += 1
        name = f"{source.name}-{n}"
    note = None
    if name != source.name:
        note = (f"dataset {spec!r} ({source.origin}) has the same name as another dataset of this run; "
                f"its results are labelled {name!r}")
        source = dataclasses.replace(source, name=name)
    names[source.origin] = name
    return source, note
