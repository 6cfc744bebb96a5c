"""What the CLI commands share, defined once: the ``--data-dir`` option, the error block (a library error
becomes one red sentence and an exit code), and the parsers of comma lists and KEY=VALUE items.

Click only (no torch, no pandas), so ``srbench --help`` stays instant.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from srbench.interfaces import SRBenchError
from srbench.markup import plain

F = TypeVar("F", bound=Callable[..., Any])

USAGE_ERROR = 2  # click's own exit code for usage errors; srbench uses it for every "cannot start" error


def csv_list(value: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``; None or blank -> ``()``."""
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def key_value(text: str, form: str = "KEY=VALUE", *, param_hint: str | None = None,
              allow_empty: bool = False) -> tuple[str, str]:
    """``"key=value"`` -> ``("key", "value")`` (the key stripped, the value kept as is, ``=`` allowed in it).

    A missing ``=``, an empty key or (unless ``allow_empty``) an empty value is a click usage error naming
    ``form``.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or (not value and not allow_empty):
        raise click.BadParameter(f"expected {form}, got {text!r}", param_hint=param_hint)
    return key.strip(), value


def key_values(items: Iterable[str], form: str = "KEY=VALUE", *, param_hint: str | None = None) -> dict[str, str]:
    """Repeated KEY=VALUE items as a dict (a later item wins)."""
    return dict(key_value(item, form, param_hint=param_hint) for item in items)


def fail(message: str, code: int = USAGE_ERROR) -> None:
    """Print ``error: message`` in red on stderr (library colour codes removed) and exit with ``code``."""
    click.secho(f"error: {plain(message)}", fg="red", err=True)
    sys.exit(code)


def check_device(name: str) -> None:
    """A usage error (exit 2) unless ``name`` is a device torch can use here: cpu, cuda, cuda:N, mps."""
    import torch

    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise click.BadParameter(f"{name!r} is not a device: use cpu, cuda or cuda:N", param_hint="--device") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise click.BadParameter(f"{name!r}: srbench runs on cpu, cuda or cuda:N", param_hint="--device")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise click.BadParameter(f"{name!r}: CUDA is not available on this machine", param_hint="--device")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise click.BadParameter(f"{name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)",
                                     param_hint="--device")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise click.BadParameter(f"{name!r}: MPS is not available on this machine", param_hint="--device")


def data_dir_option(help: str = "Local folder in the benchmark layout (Set5/HR, Set14/HR, ...). "  # noqa: A002
                    "Also $SRBENCH_DATA_DIR.") -> Callable[[F], F]:
    """The ``--data-dir DIR`` option (a Path, or None when not given), shared by every command with data."""
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=help)


def scales_option() -> Callable[[F], F]:
    """``-s/--scale``, repeatable or comma-separated (parse with :func:`scales`)."""
    return click.option("--scale", "-s", "scale", multiple=True,
                        help="Scale factor(s), e.g. -s 2 -s 4 or -s 2,3,4 [default: 4].")


def scales(values: Iterable[str]) -> tuple[int, ...]:
    """The integers of repeated, comma-separated ``--scale`` values (a usage error names a bad one)."""
    out: list[int] = []
    for v in values:
        for part in csv_list(v):
            try:
                out.append(int(part))
            except ValueError:
                raise click.BadParameter(f"scale must be an integer, got {part!r}", param_hint="--scale") from None
    return tuple(out)


def weights_option() -> Callable[[F], F]:
    """``--weights MODEL=PATH``, repeatable (parse with :func:`key_values`)."""
    return click.option("--weights", "weights", multiple=True, metavar="MODEL=PATH",
                        help="Checkpoint for a model (repeatable).")


def progress_option(help: str = "No progress bars.") -> Callable[[F], F]:  # noqa: A002
    """``--no-progress``."""
    return click.option("--no-progress", is_flag=True, help=help)


def library_errors(*extra: type[BaseException]) -> Callable[[F], F]:
    """Decorator for a command body: srbench's errors (and ValueError, and ``extra``) become ``error: ...``
    on stderr with exit code 2 instead of a traceback. Exit codes a command sets itself pass through."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (SRBenchError, ValueError, *extra) as exc:
                fail(str(exc))
                return None

        return run  # type: ignore[return-value]

    return wrap
