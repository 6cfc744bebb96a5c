"""Dataset manifests: parsing and looking up ``datasets/<name>.toml`` (one job: what a dataset is).

A manifest (read through ``importlib.resources.files("srbench") / "catalogue"``) says where a dataset's
archives live, how to check them (size, SHA-256 or MD5), where the HR and official LR images sit inside
them, and, for the benchmark sets, the hash of every HR image's decoded pixels
(``srbench.data.io.pixel_sha256``), so that a re-encoded or renamed copy still verifies.
``datasets/README.md`` documents the fields. Fetching is :mod:`srbench.data.fetch`.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from srbench.interfaces import DatasetError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 needs the tomli backport
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "FileSpec",
    "Manifest",
    "PinnedImage",
    "folder_name",
    "list_manifests",
    "load_manifest",
    "read_manifest",
]

SCHEMA_VERSION = 1
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
class PinnedImage:
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
    hr: Mapping[str, PinnedImage] = field(default_factory=lambda: MappingProxyType({}))
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
    hr: dict[str, PinnedImage] = {}
    for image_id, entry in hr_table.items():
        f = _Fields(entry if isinstance(entry, dict) else {}, f"{where} [images.hr] {image_id!r}")
        digest = f.get("pixel_sha256", str)
        shape = f.get("shape", list)
        f.done()
        if not _SHA256_RE.fullmatch(digest):
            raise DatasetError(f"{f.where}: pixel_sha256 must be 64 lower-case hex digits")
        if len(shape) != 3 or shape[2] not in (1, 3) or not all(isinstance(v, int) and v > 0 for v in shape):
            raise DatasetError(f"{f.where}: shape must be [H, W, C] with C = 1 or 3, got {shape}")
        hr[image_id] = PinnedImage(digest, (shape[0], shape[1], shape[2]))
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
        if not spec.pinned and not (set(spec.contains) == {"hr"} and hr):
            # srbench only downloads what it can verify: an unpinned archive needs pinned pixels
            raise DatasetError(
                f"{where}: {spec.url} has no sha256/md5; that is allowed only for HR-only mirrors of a "
                "dataset with pinned pixel hashes ([images.hr])"
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
