"""Escaping text for Markdown (one copy, used by the paper tables and the ``srbench check`` summary)."""

from __future__ import annotations

import re

_MD_SPECIAL = {"\\": "\\\\", "|": "\\|", "*": "\\*", "_": "\\_", "`": "\\`", "[": "\\[", "]": "\\]",
               "<": "&lt;", ">": "&gt;", "&": "&amp;", "#": "\\#"}


def md_escape(text: object) -> str:
    """Text for a Markdown table cell or list item: pipes, emphasis, links, code and HTML characters
    neutralised, newlines folded to spaces (a cell is one line)."""
    return "".join(_MD_SPECIAL.get(ch, ch) for ch in str(text)).replace("\n", " ")


# Terminal colour codes that libraries put in their messages (torch's and Keras' errors): never ours to print.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(message: str) -> str:
    """``message`` without terminal colour codes."""
    return _ANSI.sub("", message)
