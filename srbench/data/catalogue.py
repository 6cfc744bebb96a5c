"""The dataset catalogue: manifests, the cache folder, and ``fetch`` (download + extract + verify).

A manifest (``datasets/<name>.toml``, read through ``importlib.resources.files("srbench") / "catalogue"``)
says where a dataset's archives live, how to check them (size, SHA-256 or MD5), where the HR and
official LR images sit inside them, and, for the benchmark sets, the hash of every HR image's decoded
pixels (``srbench.data.io.pixel_sha256``), so that a re-encoded or renamed copy still verifies.
``datasets/README.md`` documents the fields.

``fetch`` lays a dataset out as ``<root>/<folder>/HR/<id>.png`` (plus ``LR_bicubic/X<s>/<id>x<s>.png``
with ``official_lr=True``): the benchmark layout that the local-folder path reads, so a fetched dataset
and a folder copied by hand are used the same way.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from srbench.files import atomic_write_text
from srbench.interfaces import DatasetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as tomllib

__all__ = [
    "FileSpec",
    "HRImage",
    "Manifest",
    "cache_dir",
    "fetch",
    "folder_name",
    "list_manifests",
    "load_manifest",
    "read_manifest",
    "verify_hr",
]

SCHEMA_VERSION = 1
STAMP = ".verified"
DOWNLOADS = ".downloads"  # archives, below the data root
_PART_RE = re.compile(r"^(hr|lr_x([2-9]))$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class FileSpec:
    """One downloadable file of a manifest (``[[files]]`` or ``[[mirrors]]``).

    ``contains``: the parts it provides, ``"hr"`` and/or ``"lr_x<s>"``. ``hr_dir``: folder of the HR
    images inside the extracted archive, or ``"*"``: search the whole archive for images whose pixel
    hashes are pinned (for mirrors of unknown layout or naming). ``lr_dir``: folder of the LR images with
    ``{scale}`` in it; ``lr_name``: LR file stem from ``{id}`` and ``{scale}``. ``bytes`` is the file size.
    """

    url: str
    filename: str
    contains: tuple[str, ...]
    bytes: int | None = None
    sha256: str | None = None
    md5: str | None = None
    hr_dir: str | None = None
    lr_dir: str | None = None
    lr_name: str = "{id}x{scale}"
    note: str = ""

    @property
    def pinned(self) -> bool:
        """Whether the archive bytes are pinned by a hash (else only pixel hashes can verify it)."""
        return self.sha256 is not None or self.md5 is not None


@dataclass(frozen=True)
class HRImage:
    """Pinned HR image: hash of its decoded uint8 HWC pixels and its shape (H, W, C)."""

    pixel_sha256: str
    shape: tuple[int, int, int]


@dataclass(frozen=True)
class Manifest:
    """A dataset of the catalogue; see ``datasets/README.md`` for the meaning of each field."""

    name: str
    folder: str
    title: str
    kind: Literal["benchmark", "train"]
    description: str
    citation: str
    licence: str
    lr: str
    scales: tuple[int, ...]
    count: int
    files: tuple[FileSpec, ...]
    mirrors: tuple[FileSpec, ...] = ()
    hr: Mapping[str, HRImage] = field(default_factory=lambda: MappingProxyType({}))
    ids: tuple[str, ...] = ()  # every HR image id, sorted; empty when the manifest does not pin them
    aliases: tuple[str, ...] = ()
    notes: str = ""
    digest: str = ""  # sha256 of the manifest file: a changed manifest invalidates ``.verified`` stamps
    source: str = ""  # where the manifest was read from, for messages

    @property
    def parts(self) -> tuple[str, ...]:
        """Every part some file of the manifest provides ("hr", "lr_x2", ...), "hr" first."""
        found = {p for f in self.files + self.mirrors for p in f.contains}
        return tuple(sorted(found, key=lambda p: (p != "hr", p)))


# ---------------------------------------------------------------------------------------------------------
# loading


def _catalogue() -> Any:
    return files("srbench") / "catalogue"


def _manifest_resources() -> dict[str, Any]:
    return {r.name[: -len(".toml")]: r for r in _catalogue().iterdir() if r.name.endswith(".toml")}


def list_manifests() -> list[Manifest]:
    """Every manifest of the catalogue, sorted by name."""
    return [_load_resource(r) for _, r in sorted(_manifest_resources().items())]


def load_manifest(name: str) -> Manifest:
    """The manifest called ``name`` (also matched: its folder name and aliases, case-insensitively).

    An unknown name raises ``DatasetError`` listing the known names, with a did-you-mean.
    """
    resources = _manifest_resources()
    key = name.strip().lower()
    if key in resources:
        return _load_resource(resources[key])
    manifests = [_load_resource(r) for _, r in sorted(resources.items())]
    for m in manifests:
        if key == m.folder.lower() or key in m.aliases:
            return m
    known = sorted(resources)
    candidates = {m.folder.lower(): m.name for m in manifests} | {
        a: m.name for m in manifests for a in m.aliases
    }
    candidates |= {n: n for n in known}
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    hint = f" Did you mean {candidates[close[0]]!r}?" if close else ""
    raise DatasetError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(known)}.")


def folder_name(name: str) -> str:
    """Folder of dataset ``name`` in the benchmark layout (b100 -> "B100", div2k-valid -> "DIV2K_valid")."""
    return load_manifest(name).folder


def _load_resource(resource: Any) -> Manifest:
    return _parse(resource.read_bytes(), source=f"catalogue/{resource.name}")


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Parse a manifest file outside the catalogue (a user's own dataset, or a test's)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read manifest {path}: {exc}") from exc
    return _parse(data, source=str(path))


class _Fields:
    """Typed access to one TOML table that reports unknown keys and wrong types, naming the manifest."""

    def __init__(self, table: Mapping[str, Any], where: str) -> None:
        self.table, self.where, self.used = table, where, set()

    def get(self, key: str, typ: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise DatasetError(f"{self.where}: missing field {key!r}")
            return default
        value = self.table[key]
        if not isinstance(value, typ) or (isinstance(value, bool) and bool not in _tuple(typ)):
            raise DatasetError(f"{self.where}: field {key!r} must be {_typename(typ)}, got {value!r}")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise DatasetError(f"{self.where}: unknown field(s) {', '.join(map(repr, unknown))}")


def _tuple(typ: type | tuple[type, ...]) -> tuple[type, ...]:
    return typ if isinstance(typ, tuple) else (typ,)


def _typename(typ: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _tuple(typ))


def _parse(data: bytes, *, source: str) -> Manifest:
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DatasetError(f"manifest {source}: not valid TOML ({exc})") from exc
    top = _Fields(doc, f"manifest {source}")
    schema = top.get("schema", int)
    if schema != SCHEMA_VERSION:
        raise DatasetError(
            f"manifest {source}: schema {schema} is not supported (this srbench reads {SCHEMA_VERSION})"
        )
    name = top.get("name", str)
    where = f"manifest {name!r} ({source})"
    top.where = where
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise DatasetError(f"{where}: name must be lower-case letters, digits and '-'")
    folder = top.get("folder", str)
    if not folder or "/" in folder or "\\" in folder or folder.startswith("."):
        raise DatasetError(f"{where}: folder must be a plain folder name, got {folder!r}")
    kind = top.get("kind", str)
    if kind not in ("benchmark", "train"):
        raise DatasetError(f"{where}: kind must be 'benchmark' or 'train', got {kind!r}")
    scales = tuple(top.get("scales", list))
    if not scales or not all(isinstance(s, int) and not isinstance(s, bool) and 2 <= s <= 9 for s in scales):
        raise DatasetError(f"{where}: scales must be a non-empty list of integers 2..9, got {list(scales)}")
    aliases = top.get("aliases", list, [])
    if not all(isinstance(a, str) and a == a.lower() for a in aliases):
        raise DatasetError(f"{where}: aliases must be lower-case strings")

    file_specs = tuple(
        _parse_file(t, f"{where} [[files]] #{i + 1}") for i, t in enumerate(top.get("files", list))
    )
    mirror_specs = tuple(
        _parse_file(t, f"{where} [[mirrors]] #{i + 1}") for i, t in enumerate(top.get("mirrors", list, []))
    )
    if not file_specs:
        raise DatasetError(f"{where}: no [[files]]")

    images = _Fields(top.get("images", dict), f"{where} [images]")
    count = images.get("count", int)
    hr_table = images.get("hr", dict, {})
    hr: dict[str, HRImage] = {}
    for image_id, entry in hr_table.items():
        f = _Fields(entry if isinstance(entry, dict) else {}, f"{where} [images.hr] {image_id!r}")
        digest = f.get("pixel_sha256", str)
        shape = f.get("shape", list)
        f.done()
        if not _SHA256_RE.fullmatch(digest):
            raise DatasetError(f"{f.where}: pixel_sha256 must be 64 lower-case hex digits")
        if len(shape) != 3 or shape[2] not in (1, 3) or not all(isinstance(v, int) and v > 0 for v in shape):
            raise DatasetError(f"{f.where}: shape must be [H, W, C] with C = 1 or 3, got {shape}")
        hr[image_id] = HRImage(digest, (shape[0], shape[1], shape[2]))
    ids_format = images.get("ids_format", str, None)
    if ids_format is not None:
        if hr:
            raise DatasetError(f"{where} [images]: give either an [images.hr] table or ids_format, not both")
        first, last = images.get("ids_first", int), images.get("ids_last", int)
        try:
            ids = tuple(format(i, ids_format) for i in range(first, last + 1))
        except ValueError as exc:
            raise DatasetError(f"{where} [images]: bad ids_format {ids_format!r} ({exc})") from exc
    else:
        ids = tuple(sorted(hr))
    images.done()
    if ids and len(ids) != count:
        raise DatasetError(f"{where} [images]: count is {count} but {len(ids)} image ids are listed")
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{where} [images]: duplicate image ids")

    for spec in file_specs + mirror_specs:
        lr_only_with_reason = "hr" not in spec.contains and bool(spec.note)
        if not spec.pinned and not (set(spec.contains) == {"hr"} and hr) and not lr_only_with_reason:
            # srbench only downloads what it can verify: an unpinned archive needs pinned pixels, or
            # (official LR only, checked against the installed HR) a note saying why no hash is pinned
            raise DatasetError(
                f"{where}: {spec.url} has no sha256/md5; that is allowed only for HR-only mirrors of a "
                "dataset with pinned pixel hashes ([images.hr]) or for an LR-only file whose note says why"
            )
        if spec.hr_dir == "*" and not hr:
            raise DatasetError(f"{where}: {spec.url}: hr_dir = '*' (search by pixel hash) needs [images.hr]")
        for part in spec.contains:
            if part != "hr" and int(part[4:]) not in scales:
                raise DatasetError(f"{where}: {spec.url} provides {part} but scales are {list(scales)}")
    if not any("hr" in f.contains for f in file_specs):
        raise DatasetError(f"{where}: no file in [[files]] provides 'hr'")

    manifest = Manifest(
        name=name,
        folder=folder,
        title=top.get("title", str),
        kind=kind,  # type: ignore[arg-type]
        description=top.get("description", str).strip(),
        citation=top.get("citation", str).strip(),
        licence=top.get("licence", str).strip(),
        lr=top.get("lr", str).strip(),
        scales=scales,
        count=count,
        files=file_specs,
        mirrors=mirror_specs,
        hr=MappingProxyType(hr),
        ids=ids,
        aliases=tuple(aliases),
        notes=top.get("notes", str, "").strip(),
        digest=hashlib.sha256(data).hexdigest(),
        source=source,
    )
    top.done()
    return manifest


def _parse_file(table: Any, where: str) -> FileSpec:
    if not isinstance(table, dict):
        raise DatasetError(f"{where}: must be a table")
    f = _Fields(table, where)
    url = f.get("url", str)
    if not url.startswith(("https://", "http://")):
        raise DatasetError(f"{where}: url must be http(s), got {url!r}")
    filename = f.get("filename", str)
    if not filename or "/" in filename or "\\" in filename or filename.startswith("."):
        raise DatasetError(f"{where}: filename must be a plain file name, got {filename!r}")
    contains = tuple(f.get("contains", list))
    if not contains or not all(isinstance(p, str) and _PART_RE.fullmatch(p) for p in contains):
        raise DatasetError(f"{where}: contains must list parts 'hr' or 'lr_x<scale>', got {list(contains)}")
    size = f.get("bytes", int, None)
    if size is not None and size <= 0:
        raise DatasetError(f"{where}: bytes must be positive")
    sha256, md5 = f.get("sha256", str, None), f.get("md5", str, None)
    if sha256 is not None and not _SHA256_RE.fullmatch(sha256):
        raise DatasetError(f"{where}: sha256 must be 64 lower-case hex digits")
    if md5 is not None and not _MD5_RE.fullmatch(md5):
        raise DatasetError(f"{where}: md5 must be 32 lower-case hex digits")
    hr_dir, lr_dir = f.get("hr_dir", str, None), f.get("lr_dir", str, None)
    lr_name = f.get("lr_name", str, "{id}x{scale}")
    if "hr" in contains and hr_dir is None:
        raise DatasetError(f"{where}: provides 'hr' but has no hr_dir")
    if any(p != "hr" for p in contains):
        if lr_dir is None or "{scale}" not in lr_dir:
            raise DatasetError(f"{where}: provides LR but lr_dir (with '{{scale}}') is missing")
        if "{id}" not in lr_name:
            raise DatasetError(f"{where}: lr_name must contain '{{id}}'")
    for d in (hr_dir, lr_dir):
        if d is not None and d != "*" and (d.startswith("/") or ".." in d.split("/")):
            raise DatasetError(f"{where}: {d!r} must be a relative path inside the archive")
    spec = FileSpec(
        url, filename, contains, size, sha256, md5, hr_dir, lr_dir, lr_name, f.get("note", str, "").strip()
    )
    f.done()
    return spec


# ---------------------------------------------------------------------------------------------------------
# verification


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
    from srbench.data.io import list_images, pixel_sha256, read_image
    from srbench.interfaces import ImageError

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

    from srbench.data.io import list_images

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
    from srbench.data.download import OFFLINE_HINT, OfflineError

    head = f"cannot fetch the {part} images of dataset {manifest.name!r}"
    if not errors:
        return DatasetError(f"{head}: no file of the manifest provides them")
    if all(isinstance(e, OfflineError) for e in errors):
        offline = [e for e in errors if isinstance(e, OfflineError)]
        tried = "; ".join(f"{e.url}: {e.reason}" for e in offline)
        return DatasetError(
            f"{head}: this machine seems to be offline ({tried}). {OFFLINE_HINT} Or download "
            f"{offline[0].url} by hand and put it at {offline[0].dest}: it is verified and used."
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
    from srbench.data.download import download, extract

    archive = root / DOWNLOADS / spec.filename
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
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not spec.pinned:  # else a later download() would accept the same unverifiable bytes again
            archive.unlink(missing_ok=True)
    if not _shared_elsewhere(manifest, spec):
        archive.unlink(missing_ok=True)
    return installed


def _gather_hr(manifest: Manifest, spec: FileSpec, tree: Path, out: Path) -> None:
    """Move the HR images of the extracted ``tree`` to ``out/<id><suffix>``."""
    from srbench.data.io import IMAGE_SUFFIXES, list_images, pixel_sha256, read_image
    from srbench.interfaces import ImageError

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
    from srbench.data.io import list_images

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
