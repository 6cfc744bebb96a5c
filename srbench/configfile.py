"""Reading a TOML config file into a frozen config dataclass's fields, with the file named in every error.

TOML has types, and a value of the wrong one must not be read as something else: ``metrics = "psnr"``
would otherwise become the letters ``p, s, n, r``. Fields typed ``tuple[X, ...]`` take a TOML array of X,
``tuple[tuple[str, str], ...]`` a table of strings (``[weights]``), fixed tuples an array of that length.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

from srbench.interfaces import SRBenchError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


class ConfigFileError(SRBenchError):
    """A config file cannot be read or holds a key or value its config does not accept."""


def read_toml(path: str | Path) -> dict[str, Any]:
    """The TOML document at ``path``; ConfigFileError naming the file when it is missing or invalid."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigFileError(f"config file {p} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"config file {p} cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {p}: invalid TOML ({exc})") from None


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _describe(value: Any) -> str:
    kind = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})"


def _fits(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            inner = args[0]
            if typing.get_origin(inner) is tuple and isinstance(value, dict):  # a table of KEY = VALUE pairs
                return all(_fits(list(kv), inner) for kv in value.items())
            return isinstance(value, list) and all(_fits(v, inner) for v in value)
        return isinstance(value, list) and len(value) == len(args) and all(map(_fits, value, args))
    return True  # a type this checker does not know: the dataclass validates it


def _expected(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_expected(a) for a in args if a is not type(None))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            if typing.get_origin(args[0]) is tuple:
                return "a table of names to strings"
            return f"an array of {_expected(args[0]).removeprefix('a ').removeprefix('an ')}s"
        return f"an array of {len(args)} {_expected(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return _NAMES.get(hint, str(hint))


def check_fields(data: dict[str, Any], cls: type, where: str) -> None:
    """Refuse keys of ``data`` that are not fields of dataclass ``cls``, and values of the wrong TOML type;
    each error is a sentence naming ``where`` (the file), the key and what it expected."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        import difflib

        close = {u: c[0] for u in unknown if (c := difflib.get_close_matches(u, names, n=1))}
        hint = "".join(f" ({u!r}: did you mean {c!r}?)" for u, c in close.items())
        raise ConfigFileError(f"config file {where}: unknown config keys: {unknown}{hint}")
    for key, value in data.items():
        if not _fits(value, hints[key]):
            raise ConfigFileError(f"config file {where}: key {key!r} must be {_expected(hints[key])}, "
                                  f"got {_describe(value)}")
