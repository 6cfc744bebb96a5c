"""File helpers used everywhere: atomic writes, content hashes, safe names and CSV text cells. One copy of each.

An atomic write goes to a temporary file in the target's folder and is moved into place with
``os.replace`` (atomic on POSIX): a reader sees the old file or the new one, never half of one.
The result gets the ordinary permissions of the user's umask (``mkstemp`` alone would make it 0600).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

PathLike = str | os.PathLike[str]


@lru_cache(maxsize=1)
def _file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: PathLike, write: Callable[[str], None], *, fsync: bool = False) -> Path:
    """Call ``write(tmp_path)`` and move the file it wrote to ``path``; nothing is left on failure.

    ``fsync=True`` flushes the data to disk before the move (checkpoints: a crash after the move
    must not leave an empty file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _file_mode())
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: PathLike, data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), fsync=fsync)


def atomic_write_text(path: PathLike, text: str, *, fsync: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (newlines as given)."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    return atomic_write(path, write, fsync=fsync)


def file_digest(path: PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, streamed (``algorithm``: any hashlib name, e.g. "sha256", "md5")."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: PathLike) -> str:
    """sha256 hex digest of a file's bytes, streamed."""
    return file_digest(path, "sha256")


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_text(text: str) -> str:
    """A CSV text cell made inert for spreadsheets: a leading ``'`` before ``= + - @``, tab, CR or ``'``."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def unescape_text(text: str) -> str:
    """The inverse of :func:`escape_text`."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def safe_name(text: str) -> str:
    """A file-system-safe version of a user-controlled name (one path component, never empty)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"
