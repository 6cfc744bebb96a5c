"""The run directory's exclusive lock: one run per directory, "in use by PID N" otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from srbench.rundir.common import LOCK_FILE, RunDirError, RunDirInUse

if TYPE_CHECKING:
    pass

# ------------------------------------------------------------------------------------------- the lock


class RunLock:
    """An exclusive lock on a run directory (``fcntl.flock`` on ``.srbench.lock``, which holds the PID).

    The kernel drops a flock when its process dies, so the lock of a killed run never blocks the next
    one. Released (and the file removed) by :meth:`release` or on leaving the ``with`` block.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise RunDirError(f"{self.path}: cannot create the run directory's lock file "
                                  f"({exc.strerror or exc}); is {self.run_dir} writable?") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise RunDirInUse(f"{self.run_dir} is in use by PID {pid} (another `srbench run` or --resume "
                                  "into it); wait for it to finish or choose another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed the file between our open and our flock: retry on the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return self
        raise RunDirInUse(f"{self.run_dir}: could not take the lock {self.path}")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it: see acquire's inode check
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
