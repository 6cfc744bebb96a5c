"""Fetching a catalogue dataset (one job: getting it onto the disk, verified): the cache folder, download
+ extract + verify, and the ``.verified`` stamps. What a dataset is comes from :mod:`srbench.data.manifest`.

``fetch`` lays a dataset out as ``<root>/<folder>/HR/<id>.png`` (plus ``LR_bicubic/X<s>/<id>x<s>.png``
with ``official_lr=True``): the benchmark layout that the local-folder path reads, so a fetched dataset
and a folder copied by hand are used the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from srbench.data.manifest import _PART_RE, FileSpec, Manifest, list_manifests, load_manifest
from srbench.files import atomic_write_text
from srbench.interfaces import DatasetError, ImageError

__all__ = ["DOWNLOADS", "STAMP", "cache_dir", "fetch", "verify_hr"]

STAMP = ".verified"
DOWNLOADS = ".downloads"  # archives, below the data root


def cache_dir() -> Path:
    """Root of the fetched datasets: ``$SRBENCH_DATA_DIR`` if set, else ``<user cache>/srbench/datasets``.

    The folder has the benchmark layout (``Set5/HR/*.png`` ...), so a folder prepared by hand can be
    used by pointing ``SRBENCH_DATA_DIR`` (or ``--data-dir``) at it.
    """
    env = os.environ.get("SRBENCH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("srbench")) / "datasets"


def _hr_folder(folder: Path) -> Path:
    return folder / "HR" if (folder / "HR").is_dir() else folder


def verify_hr(manifest: Manifest, folder: str | os.PathLike[str]) -> list[str]:
    """Problems of an HR folder against ``manifest``; an empty list means it verifies.

    ``folder`` is the HR folder (or a dataset folder holding ``HR/``). Image ids are file stems. Checked:
    missing, extra and duplicate ids (or, when the manifest pins no ids, the image count), and, when it
    pins pixel hashes, every image's decoded pixels (so a PNG re-encoded by another tool still verifies,
    and a grayscale image converted to RGB does not).
    """
    from srbench.data.io import list_images, pixel_sha256, read_image  # deferred: it imports PIL

    folder = _hr_folder(Path(folder))
    if not folder.is_dir():
        return [f"HR folder {folder} does not exist"]
    images = list_images(folder)
    by_id: dict[str, list[Path]] = {}
    for p in images:
        by_id.setdefault(p.stem, []).append(p)
    problems = [
        f"duplicate image id {i!r}: {', '.join(p.name for p in ps)}"
        for i, ps in sorted(by_id.items())
        if len(ps) > 1
    ]
    if manifest.ids:
        expected = set(manifest.ids)
        problems += [f"missing image {i!r}" for i in manifest.ids if i not in by_id]
        problems += [f"extra image {i!r} ({by_id[i][0].name})" for i in sorted(set(by_id) - expected)]
    elif len(by_id) != manifest.count:
        problems.append(f"expected {manifest.count} images, found {len(by_id)}")
    for image_id, pinned in manifest.hr.items():
        if len(by_id.get(image_id, ())) != 1:
            continue
        path = by_id[image_id][0]
        try:
            image = read_image(path)
        except ImageError as exc:
            problems.append(f"image {image_id!r} unreadable: {exc.problem}")
            continue
        if pixel_sha256(image) != pinned.pixel_sha256:
            got = "x".join(map(str, image.shape))
            want = "x".join(map(str, pinned.shape))
            shapes = f"shape {got}, expected {want}" if got != want else f"shape {got} as expected"
            problems.append(
                f"image {image_id!r} ({path.name}): pixels differ from the pinned hash ({shapes})"
            )
    return problems


def _verify_lr(hr_dir: Path, lr_dir: Path, scale: int) -> list[str]:
    """LR folder against the installed HR: one ``<id>x<s>`` per HR image, of size HR // s (modcrop)."""
    from PIL import Image

    from srbench.data.io import list_images  # deferred: it imports PIL

    problems: list[str] = []
    lr = {p.stem: p for p in list_images(lr_dir)} if lr_dir.is_dir() else {}
    hr = {p.stem: p for p in list_images(hr_dir)}
    expected = {f"{i}x{scale}": i for i in hr}
    problems += [f"x{scale}: missing LR image for {i!r}" for s, i in sorted(expected.items()) if s not in lr]
    problems += [f"x{scale}: extra LR image {lr[s].name}" for s in sorted(set(lr) - set(expected))]
    for stem, image_id in sorted(expected.items()):
        if stem not in lr:
            continue
        try:  # headers only: cheap even for DIV2K
            with Image.open(hr[image_id]) as h, Image.open(lr[stem]) as low:
                want, got = (h.width // scale, h.height // scale), low.size
        except OSError as exc:
            problems.append(f"x{scale}: {lr[stem].name} unreadable ({exc})")
            continue
        if got != want:
            problems.append(
                f"x{scale}: {lr[stem].name} is {got[0]}x{got[1]}, expected {want[0]}x{want[1]} (HR // {scale})"
            )
    return problems


# ---------------------------------------------------------------------------------------------------------
# fetch


def _read_stamp(target: Path, manifest: Manifest) -> tuple[set[str], dict[str, str]]:
    """Parts recorded as verified in ``<target>/.verified`` for this very manifest and still present,
    with their sources."""
    try:
        stamp = json.loads((target / STAMP).read_text())
    except (OSError, ValueError):
        return set(), {}
    if (
        not isinstance(stamp, dict)
        or stamp.get("manifest") != manifest.name
        or stamp.get("digest") != manifest.digest
    ):
        return set(), {}
    parts = {p for p in stamp.get("parts", []) if isinstance(p, str) and _PART_RE.fullmatch(p)}
    parts = {p for p in parts if _part_dir(target, p).is_dir()}
    recorded = stamp.get("sources") if isinstance(stamp.get("sources"), dict) else {}
    return parts, {p: str(recorded.get(p, "?")) for p in parts}


def _write_stamp(target: Path, manifest: Manifest, parts: Iterable[str], sources: Mapping[str, str]) -> None:
    """Record verified parts; a read-only folder (a shared copy) just stays unstamped."""
    stamp = {
        "manifest": manifest.name,
        "digest": manifest.digest,
        "parts": sorted(parts, key=lambda p: (p != "hr", p)),
        "sources": dict(sorted(sources.items())),
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        atomic_write_text(target / STAMP, json.dumps(stamp, indent=1))
    except OSError:
        pass


def _part_dir(target: Path, part: str) -> Path:
    return target / "HR" if part == "hr" else target / "LR_bicubic" / f"X{part[4:]}"


def _check_existing(manifest: Manifest, target: Path, part: str) -> list[str]:
    if part == "hr":
        return verify_hr(manifest, target / "HR")
    return _verify_lr(target / "HR", _part_dir(target, part), int(part[4:]))


def fetch(
    name: str | Manifest,
    *,
    root: Path | None = None,
    official_lr: bool = False,
    progress: bool = True,
) -> Path:
    """Make dataset ``name`` available and verified; return ``<root>/<folder>``.

    ``root`` defaults to ``cache_dir()``. The result holds ``HR/<id>.png`` and, with ``official_lr``,
    ``LR_bicubic/X<s>/<id>x<s>.png`` for every scale the manifest offers (the official MATLAB-made LR,
    for cross-checking srbench's imresize; evaluation regenerates LR from HR). What is missing is
    downloaded (``[[files]]`` first, then ``[[mirrors]]``), extracted, verified (archive hashes, HR pixel
    hashes or image ids, LR names and sizes) and moved into place atomically; a ``.verified`` stamp makes
    later calls instant. A folder already there but unstamped (copied by hand) is verified instead of
    downloaded, and a folder that fails verification is never overwritten: ``DatasetError`` says why.
    Archives shared by several manifests (the EDSR ``benchmark.tar``) stay in ``<root>/.downloads``;
    the others are deleted once extracted.
    """
    manifest = name if isinstance(name, Manifest) else load_manifest(name)
    root = Path(root) if root is not None else cache_dir()
    target = root / manifest.folder
    want = ["hr"] + ([p for p in manifest.parts if p != "hr"] if official_lr else [])
    if official_lr and len(want) == 1:
        raise DatasetError(f"dataset {manifest.name!r} has no official LR images")

    done, sources = _read_stamp(target, manifest)
    if all(p in done for p in want):
        return target
    for part in want:  # "hr" first: LR is checked against the HR
        if part in done:
            continue
        if _part_dir(target, part).exists():  # put there by hand, or stamped for an older manifest
            problems = _check_existing(manifest, target, part)
            if problems:
                raise DatasetError(
                    f"{_part_dir(target, part)} exists but does not match the {manifest.name!r} manifest: "
                    f"{_summarise(problems)}. Move it away (or delete it) and fetch again."
                )
            done.add(part)
            sources[part] = "existing folder"
        else:
            todo = [p for p in want if p not in done and not _part_dir(target, p).exists()]
            errors: list[DatasetError] = []
            candidates = [f for f in manifest.files + manifest.mirrors if part in f.contains]
            for spec in candidates:  # [[files]] first, then [[mirrors]]
                try:
                    provided = _install(
                        manifest, spec, [p for p in todo if p in spec.contains], root, target, progress
                    )
                except DatasetError as exc:
                    errors.append(exc)
                    continue
                done.update(provided)
                sources.update({p: spec.url for p in provided})
                break
            else:
                raise _fetch_error(manifest, part, errors)
        _write_stamp(target, manifest, done, sources)
    return target


def _fetch_error(manifest: Manifest, part: str, errors: list[DatasetError]) -> DatasetError:
    """One message for all the sources tried; said once when the machine is simply offline."""
    from srbench.data.download import OFFLINE_HINT, OfflineError  # deferred: it imports requests

    head = f"cannot fetch the {part} images of dataset {manifest.name!r}"
    if not errors:
        return DatasetError(f"{head}: no file of the manifest provides them")
    if all(isinstance(e, OfflineError) for e in errors):
        offline = [e for e in errors if isinstance(e, OfflineError)]
        tried = "; ".join(f"{e.url}: {e.reason}" for e in offline)
        asides = "".join(f" {e.aside}" for e in offline if e.aside)
        return DatasetError(
            f"{head}: this machine seems to be offline ({tried}). {OFFLINE_HINT} Or download "
            f"{offline[0].url} by hand and put it at {offline[0].dest}: it is verified and used.{asides}"
        )
    return DatasetError(f"{head}: " + " | ".join(map(str, errors)))


def _summarise(problems: list[str], limit: int = 8) -> str:
    more = f"; ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more


def _shared_elsewhere(manifest: Manifest, spec: FileSpec) -> bool:
    """Whether another catalogue manifest uses the same archive (then it is kept for the next fetch)."""
    try:
        others = [m for m in list_manifests() if m.name != manifest.name]
    except DatasetError:
        return False
    return any(
        f.filename == spec.filename and (f.sha256, f.md5) == (spec.sha256, spec.md5) and spec.pinned
        for m in others
        for f in m.files + m.mirrors
    )


def _install(
    manifest: Manifest, spec: FileSpec, parts: list[str], root: Path, target: Path, progress: bool
) -> list[str]:
    """Download ``spec``, extract what ``parts`` need, verify, and move each part into ``target``."""
    from srbench.data.download import download, extract  # deferred: it imports requests

    archive = root / DOWNLOADS / spec.filename
    by_hand = not spec.pinned and archive.is_file()  # put there by the user (e.g. as the offline hint says)
    download(spec.url, archive, sha256=spec.sha256, md5=spec.md5, size=spec.bytes, progress=progress)
    include: list[str] | None = []  # extract only the folders needed (benchmark.tar holds four sets)
    for part in parts:
        if part == "hr" and spec.hr_dir == "*":
            include = None  # search the whole archive by pixel hash
            break
        include.append(spec.hr_dir if part == "hr" else (spec.lr_dir or "").format(scale=int(part[4:])))
    root.mkdir(parents=True, exist_ok=True)  # exists already unless the archive was put there by hand
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{manifest.folder}-", dir=root))
    try:
        tree = extract(archive, staging / "x", include=include)
        installed: list[str] = []
        for part in parts:  # "hr" comes first: LR is checked against the installed HR
            built = staging / part
            if part == "hr":
                _gather_hr(manifest, spec, tree, built)
                problems = verify_hr(manifest, built)
            else:
                scale = int(part[4:])
                _gather_lr(spec, tree, built, scale, target / "HR")
                problems = _verify_lr(target / "HR", built, scale)
            if problems:
                raise DatasetError(
                    f"{spec.url}: the {part} images fail verification against manifest {manifest.name!r}: "
                    f"{_summarise(problems)}"
                )
            final = _part_dir(target, part)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(built, final)
            installed.append(part)
    except DatasetError as exc:
        if by_hand and archive.is_file():  # never delete what the user brought: keep it aside, say where
            bad = archive.with_name(archive.name + ".bad")
            os.replace(archive, bad)
            raise DatasetError(f"{exc} The archive {archive} (put there by hand) was kept aside as {bad}.") from exc
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not spec.pinned:  # else a later download() would accept the same unverifiable bytes again
            archive.unlink(missing_ok=True)
    if not _shared_elsewhere(manifest, spec):
        archive.unlink(missing_ok=True)
    return installed


def _gather_hr(manifest: Manifest, spec: FileSpec, tree: Path, out: Path) -> None:
    """Move the HR images of the extracted ``tree`` to ``out/<id><suffix>``."""
    from srbench.data.io import IMAGE_SUFFIXES, list_images, pixel_sha256, read_image  # deferred: it imports PIL

    out.mkdir()
    if spec.hr_dir != "*":
        src = tree / (spec.hr_dir or "")
        if not src.is_dir():
            raise DatasetError(
                f"{spec.url}: the archive has no folder {spec.hr_dir!r} (expected HR images there)"
            )
        for p in list_images(src):
            os.rename(p, out / p.name)
        return
    # layout unknown (a mirror): take every image whose decoded pixels match a pinned hash
    wanted = {img.pixel_sha256: image_id for image_id, img in manifest.hr.items()}
    for p in sorted(tree.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
            continue
        try:
            image_id = wanted.pop(pixel_sha256(read_image(p)), None)
        except ImageError:
            continue
        if image_id is not None:
            os.rename(p, out / f"{image_id}{p.suffix.lower()}")


def _gather_lr(spec: FileSpec, tree: Path, out: Path, scale: int, hr_dir: Path) -> None:
    """Move the LR images of one scale to ``out/<id>x<s><suffix>``, renaming from the archive's ``lr_name``."""
    from srbench.data.io import list_images  # deferred: it imports PIL

    src = tree / (spec.lr_dir or "").format(scale=scale)
    if not src.is_dir():
        raise DatasetError(
            f"{spec.url}: the archive has no folder {src.relative_to(tree)} (expected x{scale} LR images)"
        )
    out.mkdir()
    by_stem = {p.stem: p for p in list_images(src)}
    for hr in list_images(hr_dir):
        p = by_stem.pop(spec.lr_name.format(id=hr.stem, scale=scale), None)
        if p is not None:
            os.rename(p, out / f"{hr.stem}x{scale}{p.suffix.lower()}")
    for p in by_stem.values():  # left-overs stay visible to the check as extras
        os.rename(p, out / p.name)


def compare_pixel_hashes(catalogue: str | None, name: str, origin: str, got: Mapping[str, str],
                         ids: Iterable[str]) -> tuple[bool | None, str | None]:
    """Decoded-pixel hashes of a dataset's HR images (``got``: image id -> sha256) against its catalogue
    manifest, when that pins them: (verified, warning). ``verified`` is None when there is nothing to
    compare with (a folder, or a manifest without pixel hashes); the warning says what differs."""
    if catalogue is None:
        return None, None
    try:
        expected = {k: v.pixel_sha256 for k, v in load_manifest(catalogue).hr.items()}
    except DatasetError:
        return None, None
    if not expected:
        return None, None
    present = set(ids)
    bad = sorted(k for k, v in got.items() if expected.get(k, v) != v)
    missing = sorted(set(expected) - present)
    extra = sorted(present - set(expected))
    if not (bad or missing or extra):
        return True, None
    return False, (f"dataset {name} at {origin} differs from the catalogue: "
                   f"{len(bad)} images with other pixels ({', '.join(bad[:5])}), {len(missing)} missing "
                   f"({', '.join(missing[:5])}), {len(extra)} extra ({', '.join(extra[:5])}); "
                   f"results are not comparable with published numbers")
