"""The ``trust`` option of the file model kinds (``keras:PATH?trust=true``, ``onnx:PATH?trust=true``).

By default srbench inspects a model file before running it and refuses what an SR model has no need for
(file, network and process operations, custom operator domains, ...; see :mod:`srbench.models.keras.audit`
and :mod:`srbench.models.files.onnx_audit`). ``trust=true`` skips that inspection: the user's explicit choice
for a file they trust, which may then read and write files with the user's rights.
"""

from __future__ import annotations

from typing import Any

from srbench.interfaces import ModelError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def parse_trust(value: Any, who: str) -> bool:
    """``True``/``False`` from a bool or the query-string text of ``?trust=...``; anything else is a ModelError.

    Strict on purpose: ``bool("false")`` is True, and a typo must not switch the inspection off.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ModelError(f"{who}: trust must be true or false, got {value!r}")


def opt_out(kind: str, path: Any) -> str:
    """The sentence that ends a refusal: how to load the file anyway, and what that means."""
    return (f"Load it only if you trust the file, with {kind}:{path}?trust=true (Python: trust=True); it then "
            "runs unchecked, with your rights to read and write files.")
