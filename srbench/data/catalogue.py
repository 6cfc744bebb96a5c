"""The dataset catalogue, one name for its two halves: :mod:`srbench.data.manifest` (what a dataset is:
parsing and looking up ``datasets/<name>.toml``) and :mod:`srbench.data.fetch` (getting it onto the disk,
verified). Import from here or from either module."""

from __future__ import annotations

from srbench.data.fetch import DOWNLOADS, STAMP, cache_dir, fetch, verify_hr
from srbench.data.manifest import (
    SCHEMA_VERSION,
    FileSpec,
    Manifest,
    PinnedImage,
    folder_name,
    list_manifests,
    load_manifest,
    read_manifest,
)

__all__ = [
    "DOWNLOADS",
    "SCHEMA_VERSION",
    "STAMP",
    "FileSpec",
    "Manifest",
    "PinnedImage",
    "cache_dir",
    "fetch",
    "folder_name",
    "list_manifests",
    "load_manifest",
    "read_manifest",
    "verify_hr",
]
