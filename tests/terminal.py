"""Run a command under a pseudo-terminal (as a researcher's shell would) and read what the screen shows.

Stdlib only (``pty``): no tmux or pexpect needed. POSIX only; the tests using it skip elsewhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
REPO = Path(__file__).resolve().parents[1]


def run_in_terminal(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 240,
                    columns: int = 160) -> tuple[int, str]:
    """``python -m srbench ARGS`` with stdin/stdout/stderr on a ``columns``-wide pty; (exit code, raw screen)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))  # a pty starts 0 wide
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "COLUMNS": str(columns),
                **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "srbench", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=full_env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def screen_lines(raw: str) -> list[str]:
    """The lines a terminal shows: escape codes dropped, and on each line what the last carriage return left."""
    text = ANSI.sub("", raw).replace("\r\n", "\n")
    return [line.split("\r")[-1].rstrip() for line in text.split("\n") if line.split("\r")[-1].strip()]
