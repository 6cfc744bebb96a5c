"""srbench.files: atomic writes (nothing left behind on failure, umask honoured) and file hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from srbench.files import atomic_write, atomic_write_bytes, atomic_write_text, file_sha256


def test_atomic_write_text_replaces_and_honours_umask(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    old = os.umask(0o027)
    try:
        from srbench import files

        files._file_mode.cache_clear()
        atomic_write_text(target, "one\n")
        atomic_write_text(target, "two\n")
    finally:
        os.umask(old)
        files._file_mode.cache_clear()
    assert target.read_text() == "two\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_atomic_write_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "w.bin"
    atomic_write_bytes(target, b"good")

    def broken(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken, fsync=True)
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.bin"]


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    (tmp_path / "x").write_bytes(data)
    assert file_sha256(tmp_path / "x") == hashlib.sha256(data).hexdigest()
