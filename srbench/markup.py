"""Escaping text for Markdown (one copy, used by the paper tables and the ``srbench check`` summary)."""

from __future__ import annotations

_MD_SPECIAL = {"\\": "\\\\", "|": "\\|", "*": "\\*", "_": "\\_", "`": "\\`", "[": "\\[", "]": "\\]",
               "<": "&lt;", ">": "&gt;", "&": "&amp;", "#": "\\#"}


def md_escape(text: object) -> str:
    """Text for a Markdown table cell or list item: pipes, emphasis, links, code and HTML characters
    neutralised, newlines folded to spaces (a cell is one line)."""
    return "".join(_MD_SPECIAL.get(ch, ch) for ch in str(text)).replace("\n", " ")
