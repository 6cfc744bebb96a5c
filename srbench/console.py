"""What a long command prints while it works: progress bars on a terminal, plain log lines elsewhere.

One :class:`Console` per command, in one of three modes:

- ``bars``: a terminal (stderr is a TTY) and progress wanted: tqdm bars, each kept as one finished line
  (``leave=True``); messages go through ``tqdm.write`` so they never glue onto a bar.
- ``plain``: no terminal (CI, Slurm, ``| tee``) or ``--no-progress``: no bars, one line per finished step,
  and a heartbeat line when nothing was printed for ``heartbeat_s`` seconds during a long step.
- ``quiet``: ``--quiet``: errors only.

Everything goes to one stream (stderr by default), so that stdout keeps a command's result alone. The clock
is injectable (tests drive the heartbeat with a fake clock, never with sleeps). Stdlib and tqdm only: this
module sits in the bottom layer, and tqdm is imported only when a bar is drawn.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

__all__ = ["Console", "Task", "format_duration", "format_metrics", "format_table", "format_value"]

MODES = ("bars", "plain", "quiet")
HEARTBEAT_S = 30.0  # at most one heartbeat line per this many seconds of silence
SEP = " · "

# Messages that --quiet still prints: srbench's messages start with a word naming their kind.
_ALWAYS = ("error", "interrupted")


def format_duration(seconds: float) -> str:
    """``4.2 s``, ``1:02`` (m:ss) or ``11:40:02`` (h:mm:ss): short for short steps, a clock for long ones."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_value(value: float, digits: int = 4) -> str:
    """A metric or loss value: 4 decimals for ordinary magnitudes, 4 significant digits for small or
    large ones (a loss of 0.000123), ``inf``/``nan`` as such."""
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 0.01 or abs(value) >= 1e5):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def format_metrics(values: Mapping[str, float]) -> str:
    """``psnr 28.4194 · ssim 0.8104``, in the mapping's order."""
    return SEP.join(f"{k} {format_value(v)}" for k, v in values.items())


def format_table(title: str, table: Mapping[str, Mapping[str, float]], *, n_images: int,
                 seconds: Mapping[str, float] | None = None) -> str:
    """A title line and one aligned row per model: ``model  psnr  ssim ...  time``."""
    metrics: list[str] = []
    for values in table.values():
        metrics += [m for m in values if m not in metrics]
    seconds = seconds or {}
    header = ["model", *metrics] + (["time"] if seconds else [])
    body = [[model, *(format_value(values[m]) if m in values else "-" for m in metrics)]
            + ([format_duration(seconds[model]) if model in seconds else "-"] if seconds else [])
            for model, values in table.items()]
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    lines = [f"{title}{SEP}{_count(n_images, 'image')}"]
    for row in (header, *body):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


class Console:
    """Where a command's progress goes; see the module docstring for the three modes.

    ``mode`` None picks ``bars`` when ``progress`` is true and ``stream`` is a terminal, else ``plain``
    (``quiet`` overrides both). ``clock`` (seconds, monotonic) times heartbeats and elapsed times;
    ``heartbeat_thread`` False leaves heartbeats to explicit :meth:`tick` calls (tests).
    """

    def __init__(self, mode: str | None = None, *, progress: bool = True, quiet: bool = False,
                 stream: IO[str] | None = None, clock: Callable[[], float] = time.monotonic,
                 heartbeat_s: float = HEARTBEAT_S, heartbeat_thread: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if mode is None:
            mode = "quiet" if quiet else "bars" if progress and _isatty(self.stream) else "plain"
        if mode not in MODES:
            raise ValueError(f"console mode must be one of {MODES}, got {mode!r}")
        self.mode, self.clock, self.heartbeat_s = mode, clock, heartbeat_s
        self._use_thread = heartbeat_thread
        self._lock = threading.RLock()
        self._last_output = clock()
        self._status: Callable[[], str] | None = None
        self._bars = 0  # open tqdm bars: messages go through tqdm.write while one is open

    @property
    def bars(self) -> bool:
        return self.mode == "bars"

    @property
    def quiet(self) -> bool:
        return self.mode == "quiet"

    # -------------------------------------------------------------------------------------------- lines

    def say(self, message: str) -> None:
        """A message line: printed unless quiet (then only errors); never glued onto a bar."""
        if self.quiet and not message.lower().startswith(_ALWAYS):
            return
        self._write(message)

    def info(self, message: str) -> None:
        """A progress line (plain mode) or a note above the bars; nothing when quiet."""
        if not self.quiet:
            self._write(message)

    def _write(self, message: str) -> None:
        with self._lock:
            if self._bars:
                from tqdm import tqdm  # deferred: plain and quiet consoles never load tqdm

                tqdm.write(message, file=self.stream)
            else:
                print(message, file=self.stream, flush=True)
            self._last_output = self.clock()

    def results(self, title: str, table: Mapping[str, Mapping[str, float]], *, n_images: int,
                seconds: Mapping[str, float] | None = None) -> None:
        """The quality summary of one finished (dataset, scale): ``table`` is model -> metric -> mean.

        On a terminal, a small table under a title line; in plain mode, one line per model with its means,
        image count and elapsed time (``set5 x4 · srgan · psnr 26.0184 · ssim 0.7410 · 5 images · 3.1 s``);
        nothing when quiet.
        """
        if self.quiet or not table:
            return
        seconds = seconds or {}
        if self.mode == "plain":
            for model, values in table.items():
                parts = [title, model, format_metrics(values), _count(n_images, "image")]
                if model in seconds:
                    parts.append(format_duration(seconds[model]))
                self._write(SEP.join(p for p in parts if p))
            return
        self._write(format_table(title, table, n_images=n_images, seconds=seconds))

    # ---------------------------------------------------------------------------------------- heartbeat

    def tick(self) -> bool:
        """Print the heartbeat line if a task is running (plain mode) and nothing was printed for
        ``heartbeat_s`` seconds; returns whether it printed. Called by the heartbeat thread, or by tests."""
        with self._lock:
            status = self._status
            if status is None or self.mode != "plain" or self.clock() - self._last_output < self.heartbeat_s:
                return False
            text = status()
        self._write(f"... {text}")
        return True

    def task(self, label: str, total: int | None, *, unit: str = "it", detail: str = "", initial: int = 0) -> Task:
        """A step with ``total`` units of work, ``initial`` of them done before (a resumed training): a bar
        (bars mode), heartbeats (plain mode) or nothing (quiet)."""
        return Task(self, label, total, unit, detail, initial)

    def _run_heartbeat(self, task: Task) -> threading.Thread | None:
        with self._lock:
            self._status = task.status
            self._last_output = min(self._last_output, self.clock())
        if self.mode != "plain" or not self._use_thread:
            return None
        thread = threading.Thread(target=self._beat, args=(task,), name="srbench-heartbeat", daemon=True)
        thread.start()
        return thread

    def _beat(self, task: Task) -> None:
        poll = min(1.0, self.heartbeat_s / 4)
        while not task.closed.wait(poll):
            self.tick()

    def _stop_heartbeat(self, task: Task) -> None:
        with self._lock:
            if self._status == task.status:
                self._status = None


class Task:
    """One step of work with a position: ``set14 x4 · srgan · 2/3 models`` and ``6/14 img``.

    ``detail`` names what runs now (the model); :meth:`advance` counts finished units. On a terminal it is
    a tqdm bar kept as one finished line; in plain mode it feeds the heartbeat; :meth:`close` ends it.
    """

    def __init__(self, console: Console, label: str, total: int | None, unit: str, detail: str,
                 initial: int = 0) -> None:
        self.console, self.label, self.total, self.unit, self.detail = console, label, total, unit, detail
        self.n = self.initial = initial
        self.started = console.clock()
        self.closed = threading.Event()
        self._bar: Any = None
        if console.bars:
            from tqdm import tqdm  # deferred: only a terminal draws bars

            with console._lock:
                self._bar = tqdm(total=total, initial=initial, desc=self._desc(), unit=unit, leave=True,
                                 file=console.stream, dynamic_ncols=True)
                console._bars += 1
        self._thread = console._run_heartbeat(self)

    def _desc(self) -> str:
        return SEP.join(p for p in (self.label, self.detail) if p)

    def status(self) -> str:
        """The heartbeat's text: what runs, where it is, for how long."""
        where = f"{self.n}/{self.total} {self.unit}" if self.total is not None else f"{self.n} {self.unit}"
        elapsed, done = self.elapsed, self.n - self.initial
        eta = (f"eta {format_duration(elapsed / done * (self.total - self.n))}"
               if self.total is not None and done > 0 and self.n < self.total else "")
        return SEP.join(p for p in (self.label, self.detail, where, f"{format_duration(elapsed)} elapsed", eta) if p)

    def set_detail(self, detail: str) -> None:
        """Name what runs now (``srgan · 2/3 models``)."""
        self.detail = detail
        if self._bar is not None:
            with self.console._lock:
                self._bar.set_description_str(self._desc(), refresh=True)

    def set_postfix(self, text: str) -> None:
        """Numbers shown after the bar (the losses of the last step); bars mode only, drawn at the next update."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def advance(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            with self.console._lock:
                self._bar.update(n)

    @property
    def elapsed(self) -> float:
        return self.console.clock() - self.started

    def close(self, detail: str | None = None) -> None:
        """End the task; ``detail`` replaces the live detail on the finished bar line."""
        if self.closed.is_set():
            return
        self.closed.set()
        if self._thread is not None:
            self._thread.join()
        self.console._stop_heartbeat(self)
        if self._bar is not None:
            with self.console._lock:
                if detail is not None:
                    self.detail = detail
                    self._bar.set_description_str(self._desc(), refresh=False)
                self._bar.close()
                self.console._bars -= 1
                self.console._last_output = self.console.clock()

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def model_names(models: list[str], width: int = 40) -> str:
    """The models of a finished bar: their names when short, else their count."""
    names = ", ".join(models)
    return names if len(names) <= width else f"{len(models)} models"


def bench_progress(task: Task) -> Callable[[int, int, str], None]:
    """run_bench's progress callback -> the throughput task (a bar with an ETA, or plain lines)."""

    def progress(done: int, total: int, label: str) -> None:
        if done > task.n:
            if task.console.mode == "plain":
                task.console.info(f"throughput{SEP}{task.detail}{SEP}timed ({done}/{total}){SEP}"
                                  f"{format_duration(task.elapsed)} so far")
            task.advance(done - task.n)
        if label:
            task.set_detail(label)

    return progress
