"""Typed values of model options: ``keras:PATH?safe_mode=false&tile=64`` arrives as strings (the registry's
``split_options`` keeps them so); each factory converts with these, and a bad value or an unknown option
names the valid ones. Pure Python, no TensorFlow: usage errors come before any heavy import.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from srbench.interfaces import ModelError

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off", "")  # an empty value (``?safe_mode=``) has always meant false


def parse_bool(value: Any, option: str, who: str) -> bool:
    """``True/true/1/yes/on`` -> True, ``False/false/0/no/off`` (or empty) -> False; anything else is a ModelError.

    (``bool("False")`` is True: a string option is never passed to ``bool``.)"""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise ModelError(f"{who}: {option} must be a boolean (true/false, 1/0, yes/no), got {value!r}")


def parse_int(value: Any, option: str, who: str, *, minimum: int = 0, optional: bool = False) -> int | None:
    """An integer >= ``minimum`` from an int or its decimal string; None passes when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelError(f"{who}: {option} must be an integer >= {minimum}, got {value!r}")
    return value


def check_known(options: dict[str, Any], known: Iterable[str], who: str, note: str = "") -> None:
    """ModelError listing the valid options when ``options`` has a key outside ``known``."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        import difflib

        valid = sorted(known)
        hints = [f"{u!r}" + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, valid, n=1)) else "")
                 for u in unknown]
        raise ModelError(f"{who}: unknown options: {', '.join(hints)}; valid options: "
                         f"{', '.join(valid)}{note}")
