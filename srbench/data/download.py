"""Verified downloads and safe archive extraction.

``download`` streams a URL to ``<dest>.part``, resumes a partial file with an HTTP Range request,
retries with exponential backoff, checks size and hash, and only then moves the file into place with
``os.replace``: a file at ``dest`` is always complete and verified. ``extract`` unpacks tar (any
compression) and zip archives into a temporary folder beside ``dest`` and renames it into place, refusing
members that would land outside it (absolute paths, ``..``, links pointing outside, devices). A dataset
archive holding such a member is broken or malicious, so the whole archive is rejected. So is one that
would expand past a size or member-count cap (an archive bomb: an unpinned mirror's archive is extracted
before its images are verified), and one that does not fit the free disk space; both are checked from the
archive's own listing before anything is written.

Both raise ``srbench.interfaces.DatasetError`` with a message meant for the user as is.
"""

from __future__ import annotations

import logging
import lzma
import os
import re
import shutil
import socket
import stat
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import requests
import urllib3

from srbench.files import file_digest
from srbench.interfaces import DatasetError

log = logging.getLogger("srbench.data")

__all__ = ["OFFLINE_HINT", "OfflineError", "download", "extract", "file_digest"]

# Extraction caps (an ``extract`` argument, else the environment variable, else these). The largest archive
# of the catalogue (DIV2K train HR) extracts to 3.5 GB in 801 members.
MAX_EXTRACT_BYTES = 32 * 2**30
MAX_EXTRACT_MEMBERS = 200_000
MAX_BYTES_ENV = "SRBENCH_EXTRACT_MAX_BYTES"
MAX_MEMBERS_ENV = "SRBENCH_EXTRACT_MAX_MEMBERS"

_CHUNK = 1 << 20  # bytes per read/write: large enough to keep Python overhead negligible
_BACKOFF_S = 1.0  # first retry delay in seconds, doubled at each retry (tests set it to 0)
_USER_AGENT = "srbench (https://github.com/srbench; dataset downloader)"

OFFLINE_HINT = (
    "To use a local copy instead, pass --data-dir DIR or set SRBENCH_DATA_DIR=DIR, where DIR holds the "
    "benchmark layout (DIR/Set5/HR/*.png, DIR/Set14/HR/*.png, ...)."
)


class OfflineError(DatasetError):
    """No connection to the server could be made at all (DNS failure, refused, connect timeout)."""

    def __init__(self, message: str, *, url: str, reason: str, dest: Path, aside: str = "") -> None:
        super().__init__(message)
        self.url, self.reason, self.dest = url, reason, dest
        self.aside = aside  # the sentence saying where a non-matching file found at ``dest`` was kept


class _Retryable(Exception):
    """An attempt failed in a way that another attempt may fix (dropped connection, HTTP 5xx)."""


class _Restart(Exception):
    """The part file cannot be resumed; it was removed and the next attempt starts from byte 0."""


def _check_file(path: Path, sha256: str | None, md5: str | None, size: int | None) -> list[str]:
    """Mismatches of ``path`` against the expected size and hashes, as 'what: expected X, got Y'."""
    problems: list[str] = []
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        problems.append(f"size: expected {size} bytes, got {got_size}")
        return problems  # hashing a file of the wrong size tells nothing more
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is not None:
            got = file_digest(path, algorithm)
            if got != expected.lower():
                problems.append(f"{algorithm}: expected {expected.lower()}, got {got}")
    return problems


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 30,
) -> Path:
    """Download ``url`` to ``dest`` (a file path) and verify it; return ``dest``.

    ``size`` is in bytes; ``sha256``/``md5`` are hex digests of the whole file. If ``dest`` already
    exists and matches every given check, nothing is downloaded (so a file fetched by hand and put at
    ``dest`` is used as is); if it does not match, it is replaced. Bytes arrive in ``<dest>.part``,
    which a later call resumes with an HTTP Range request; a server that ignores Range (answers 200)
    makes the download restart from byte 0. ``retries`` counts consecutive attempts that brought no new
    byte (connection errors, dropped transfers, HTTP 5xx/408/429), with a backoff of 1, 2, 4 ... s;
    ``timeout`` (seconds) applies to connecting and to each read. A size or hash mismatch deletes the
    part file and raises ``DatasetError`` naming the URL, the expected and the received value. A host
    that cannot be reached at all raises ``OfflineError`` (a ``DatasetError``) saying the machine seems
    offline and how to use a local copy; DNS failures are not retried. Not safe against two processes
    downloading to the same ``dest`` at once (the hash check then fails and the part file is deleted).
    """
    dest = Path(dest)
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https"):
        raise DatasetError(f"cannot download {url!r}: only http and https URLs are supported")
    if retries < 0:
        raise ValueError(f"download: retries must be >= 0, got {retries}")
    aside = ""
    if dest.is_file():
        wrong = _check_file(dest, sha256, md5, size)
        if not wrong:
            return dest
        bad = dest.with_name(dest.name + ".bad")  # never delete what a user may have put there by hand
        os.replace(dest, bad)
        aside = (f"The file that was at {dest} does not match ({'; '.join(wrong)}); it was kept aside as "
                 f"{bad}.")
        log.warning("%s Downloading %s again.", aside, url)
    part = dest.with_name(dest.name + ".part")

    failures = 0  # consecutive attempts without progress
    connected = False  # did any attempt get an HTTP response?
    with requests.Session() as session:
        while True:
            before = part.stat().st_size if part.exists() else 0
            try:
                _attempt(session, url, part, size=size, progress=progress, timeout=timeout)
                break
            except _Restart:
                continue
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                _Retryable,
            ) as exc:
                connected = connected or isinstance(exc, _Retryable) or _got_response(exc)
                after = part.stat().st_size if part.exists() else 0
                failures = 0 if after > before else failures + 1
                if _is_name_resolution_error(exc) or failures > retries:
                    raise _give_up(url, dest, part, exc, connected, failures, aside) from None
                time.sleep(_BACKOFF_S * 2 ** max(failures - 1, 0))

    problems = _check_file(part, sha256, md5, size)
    if problems:
        part.unlink(missing_ok=True)
        raise DatasetError(
            f"download of {url} failed verification ({'; '.join(problems)}). The corrupt file was "
            "deleted; run again to retry, and report the URL if it keeps failing."
        )
    os.replace(part, dest)
    return dest


def _attempt(
    session: requests.Session, url: str, part: Path, *, size: int | None, progress: bool, timeout: float
) -> None:
    """One HTTP request that appends to (or restarts) ``part``; returns when the body is complete."""
    from tqdm import tqdm

    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return  # complete already: the hash check decides
    # identity: a server gzipping a .tar on the fly would change the bytes that the hash pins
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with session.get(url, headers=headers, stream=True, timeout=(timeout, timeout)) as r:
        if r.status_code == 416 and offset:
            total = _content_range_total(r.headers.get("Content-Range", ""))
            if total == offset:
                return  # the part file already holds the whole file
            part.unlink()
            raise _Restart
        if r.status_code in (408, 429) or r.status_code >= 500:
            raise _Retryable(f"HTTP {r.status_code} {r.reason}")
        if r.status_code == 206 and offset:
            start = _content_range_start(r.headers.get("Content-Range", ""))
            if start != offset:
                part.unlink()
                raise _Restart
            mode = "ab"
        elif r.status_code == 200:
            offset, mode = 0, "wb"  # no Range support (or no part file): start from byte 0
        else:
            raise DatasetError(f"cannot download {url}: HTTP {r.status_code} {r.reason}")
        length = r.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        if size is not None and total is not None and total != size:
            part.unlink(missing_ok=True)
            raise DatasetError(
                f"download of {url} failed verification (size: expected {size} bytes, the server "
                f"announces {total}). Nothing was kept."
            )
        received = 0
        part.parent.mkdir(parents=True, exist_ok=True)
        with (
            open(part, mode) as f,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            try:
                for chunk in _body(r):
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except urllib3.exceptions.HTTPError as exc:  # dropped or stalled mid-body: keep what came
                raise _Retryable(f"connection broken after {offset + received} bytes ({exc})") from exc
            finally:
                f.flush()
                os.fsync(f.fileno())
        if total is not None and offset + received < total:
            raise _Retryable(f"connection closed after {offset + received} of {total} bytes")


def _body(r: requests.Response) -> Iterator[bytes]:
    """The body's bytes as they arrive, undecoded (the hash pins the bytes as stored on the server).

    ``read1`` returns whatever has arrived, so a dropped connection loses nothing already received
    (``iter_content`` would drop the last partly filled chunk, up to 1 MiB, and a resume would redo it).
    """
    read1 = getattr(r.raw, "read1", None)  # urllib3 >= 2
    if read1 is None:
        yield from r.raw.stream(_CHUNK, decode_content=False)
        return
    while chunk := read1(_CHUNK, decode_content=False):
        yield chunk


def _content_range_start(value: str) -> int | None:
    m = re.match(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)", value)
    return int(m.group(1)) if m else None


def _content_range_total(value: str) -> int | None:
    m = re.match(r"\s*bytes\s+(?:\*|\d+-\d+)/(\d+)", value)
    return int(m.group(1)) if m else None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps (requests -> urllib3 MaxRetryError.reason -> socket errors)."""
    seen: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if any(e is s for s in seen):
            continue
        seen.append(e)
        stack.extend(
            x
            for x in (e.__cause__, e.__context__, getattr(e, "reason", None))
            if isinstance(x, BaseException)
        )
        stack.extend(a for a in e.args if isinstance(a, BaseException))
    return seen


def _is_name_resolution_error(exc: BaseException) -> bool:
    """DNS failures are not retried: they do not heal in seconds, and offline users deserve a quick answer."""
    from urllib3.exceptions import NameResolutionError

    return any(isinstance(e, (NameResolutionError, socket.gaierror)) for e in _causes(exc))


def _got_response(exc: BaseException) -> bool:
    """Whether ``exc`` happened after the server answered (a dropped transfer, not a failed connect)."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    return not any(
        isinstance(e, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError, socket.gaierror))
        for e in _causes(exc)
    )


def _give_up(
    url: str, dest: Path, part: Path, exc: BaseException, connected: bool, attempts: int, aside: str = ""
) -> DatasetError:
    reason = _short_reason(exc)
    if not connected:
        host = urlparse(url).hostname or url
        return OfflineError(
            f"cannot download {url}: {reason}. This machine seems to be offline, or {host} is unreachable. "
            f"{OFFLINE_HINT} Or download the file by hand and put it at {dest}: it is verified and used."
            + (f" {aside}" if aside else ""),
            url=url,
            reason=reason,
            dest=dest,
            aside=aside,
        )
    kept = f" The partial file {part} is kept: run again to resume." if part.exists() else ""
    return DatasetError(
        f"download of {url} failed after {attempts} attempts without progress ({reason}).{kept}"
    )


def _short_reason(exc: BaseException) -> str:
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    for e in _causes(exc):
        if isinstance(e, (NameResolutionError, socket.gaierror)):
            return "the host name could not be resolved (DNS failure)"
        if isinstance(e, ConnectionRefusedError) or (
            isinstance(e, NewConnectionError) and "refused" in str(e).lower()
        ):
            return "connection refused"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "..."


# ---------------------------------------------------------------------------------------------------------
# extraction


def extract(archive: Path, dest: Path, *, include: Sequence[str] | None = None, max_bytes: int | None = None,
            max_members: int | None = None) -> Path:
    """Unpack ``archive`` (tar with any compression, or zip) into the new folder ``dest``; return ``dest``.

    ``include``: archive paths (folders or files, e.g. ``"benchmark/Set5/HR"``) to extract; ``None``
    extracts everything. ``dest`` must not exist. Every member of the archive is checked first, and the
    archive is rejected if any has an absolute path or a ``..`` component, is a device or FIFO, or is a
    link pointing outside (tar: checked again by ``tarfile``'s ``"data"`` filter; zip: links are refused).
    Extraction happens in a temporary folder beside ``dest`` that is renamed to ``dest`` at the end, so a
    failure leaves nothing half-written.

    Before anything is written: the archive may list at most ``max_members`` members (default
    ``$SRBENCH_EXTRACT_MAX_MEMBERS`` or :data:`MAX_EXTRACT_MEMBERS`), the files extracted may total at most
    ``max_bytes`` (default ``$SRBENCH_EXTRACT_MAX_BYTES`` or :data:`MAX_EXTRACT_BYTES`), and that total must
    fit the free space beside ``dest``. The sizes are the archive's declared ones, which bound what is
    written (tar reads exactly the declared size; zip stops at it and checks the CRC).
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise DatasetError(f"cannot extract {archive}: no such file")
    if dest.exists():
        raise DatasetError(f"cannot extract {archive} into {dest}: the destination already exists")
    prefixes = [_normalise(p) for p in include] if include is not None else None
    budget = _Budget(archive, dest.parent, _limit(max_bytes, MAX_BYTES_ENV, MAX_EXTRACT_BYTES),
                     _limit(max_members, MAX_MEMBERS_ENV, MAX_EXTRACT_MEMBERS))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extract-", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp, prefixes, budget)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, tmp, prefixes, budget)
        else:
            raise DatasetError(f"cannot extract {archive}: not a tar or zip archive")
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700
        os.rename(tmp, dest)
    except DatasetError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        ValueError,
        zlib.error,
        lzma.LZMAError,
    ) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DatasetError(f"cannot extract {archive}: {exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _limit(given: int | None, env: str, default: int) -> int:
    if given is not None:
        return given
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise DatasetError(f"${env} must be a whole number, got {text!r}") from None
    if value < 0:
        raise DatasetError(f"${env} must not be negative, got {value}")
    return value


def _human(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


@dataclass(frozen=True)
class _Budget:
    """What an extraction may write: member count and total size caps, and the free space beside it."""

    archive: Path
    where: Path
    max_bytes: int
    max_members: int

    def count(self, members: int) -> None:
        """Called as the listing is read: refuses as soon as it passes the cap (a header bomb)."""
        if members > self.max_members:
            raise DatasetError(
                f"refusing to extract {self.archive}: it has more than {self.max_members} members, the limit "
                f"(${MAX_MEMBERS_ENV} raises it); the archive is broken or malicious, nothing was extracted")

    def check(self, total: int) -> None:
        if total > self.max_bytes:
            raise DatasetError(
                f"refusing to extract {self.archive}: its files would take {_human(total)}, over the limit of "
                f"{_human(self.max_bytes)} (${MAX_BYTES_ENV} raises it); the archive is broken or malicious, "
                "nothing was extracted")
        where = self.where
        while not where.exists() and where != where.parent:  # dest's parent may not exist yet
            where = where.parent
        free = shutil.disk_usage(where).free
        if total > free:
            raise DatasetError(f"cannot extract {self.archive}: it needs {_human(total)} and {where} has "
                               f"{_human(free)} free; free some space (or extract elsewhere) and try again")


def _normalise(name: str) -> str:
    """Archive member path without leading './' and trailing '/'."""
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def _included(name: str, prefixes: list[str] | None) -> bool:
    if prefixes is None:
        return True
    name = _normalise(name)
    return any(p in ("", ".") or name == p or name.startswith(p + "/") for p in prefixes)


def _unsafe_name(name: str) -> str | None:
    """Why the member path ``name`` is unsafe, or None. Backslashes count as separators (Windows zips)."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "path with '..'"
    if "\x00" in name:
        return "NUL byte in name"
    return None


def _reject(archive: Path, member: str, why: str) -> DatasetError:
    return DatasetError(
        f"refusing to extract {archive}: member {member!r} is unsafe ({why}); the archive is broken or "
        "malicious, nothing was extracted"
    )


def _check_selection(archive: Path, selected: int, prefixes: list[str] | None) -> None:
    if prefixes is not None and not selected:
        raise DatasetError(
            f"{archive} holds nothing under {', '.join(prefixes)}: not the expected archive layout"
        )


def _extract_tar(archive: Path, tmp: Path, prefixes: list[str] | None, budget: _Budget) -> None:
    with tarfile.open(archive, "r:*") as tf:
        members: list[tarfile.TarInfo] = []
        for ti in tf:  # the listing read member by member: a header bomb stops at the cap
            members.append(ti)
            budget.count(len(members))
        for ti in members:
            why = _unsafe_name(ti.name)
            if why is None and (ti.isdev() or ti.isfifo()):
                why = "device or FIFO"
            if why is None and ti.issym():
                target = PurePosixPath(ti.name).parent / ti.linkname
                if ti.linkname.startswith("/") or ".." in _resolve_parts(target):
                    why = f"symbolic link to {ti.linkname!r} outside the archive"
            if why is None and ti.islnk() and _unsafe_name(ti.linkname):
                why = f"hard link to {ti.linkname!r} outside the archive"
            if why:
                raise _reject(archive, ti.name, why)
        selected = [ti for ti in members if _included(ti.name, prefixes)]
        _check_selection(archive, len(selected), prefixes)
        budget.check(sum(ti.size for ti in selected if ti.isreg()))
        if not hasattr(tarfile, "data_filter"):  # Python < 3.10.12 / 3.11.4: the checks above must do
            tf.extractall(tmp, members=selected)
            return
        try:
            tf.extractall(tmp, members=selected, filter="data")
        except tarfile.FilterError as exc:  # the standard library's own check, as a second line
            raise _reject(archive, exc.tarinfo.name, str(exc)) from exc


def _resolve_parts(path: PurePosixPath) -> list[str]:
    """Lexically resolve ``path``; a leading '..' survives when it climbs above the archive root."""
    out: list[str] = []
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            else:
                out.append("..")
        else:
            out.append(part)
    return out


def _extract_zip(archive: Path, tmp: Path, prefixes: list[str] | None, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        budget.count(len(infos))
        for zi in infos:
            why = _unsafe_name(zi.filename)
            mode = zi.external_attr >> 16
            if why is None and stat.S_ISLNK(mode):
                why = "symbolic link (links in zip archives are not supported)"
            if why is None and (
                stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
            ):
                why = "device, FIFO or socket"
            if why:
                raise _reject(archive, zi.filename, why)
        selected = [zi for zi in infos if _included(zi.filename, prefixes)]
        _check_selection(archive, len(selected), prefixes)
        budget.check(sum(zi.file_size for zi in selected if not zi.is_dir()))
        root = tmp.resolve()
        for zi in selected:
            target = (tmp / zi.filename).resolve()
            if target != root and root not in target.parents:
                raise _reject(archive, zi.filename, "lands outside the destination")
            zf.extract(zi, tmp)  # reads through the CRC check: a corrupt member raises BadZipFile
