"""``srbench doctor``: which optional weights and extras this machine has, and where each is looked for.

Nothing is downloaded or changed. Every entry says what it enables, whether it is present (with the path,
version or device found) and where srbench looks for it, so that an offline user knows which file to put
where. Weights files are hashed only when small enough to be worth it (the LPIPS backbones); the VGG19
file is only located.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import Any

from srbench.files import file_sha256


@dataclass(frozen=True)
class Finding:
    """One optional component. ``where`` lists the places (paths, packages) srbench looks in, in order."""
    name: str
    enables: str
    present: bool
    found: str  # path / version / device found, or why not
    where: tuple[str, ...]
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["where"] = list(self.where)
        return d


def _package(name: str, module: str, enables: str, distributions: tuple[str, ...] = ()) -> Finding:
    """An importable package; its version from the first installed distribution (``name`` or one of
    ``distributions``, e.g. tensorflow-cpu). Nothing is imported."""
    v = None
    for dist in (name, *distributions):
        try:
            v = version(dist)
            break
        except PackageNotFoundError:
            continue
    present = v is not None and find_spec(module) is not None
    return Finding(name, enables, present, f"version {v}" if present else "not installed",
                   (f"python package {name!r} (pip install {name})",))


def _lpips_backbone(net: str) -> Finding:
    from srbench.metrics.perceptual import (  # deferred: it imports scipy
        BACKBONE_FILES,
        ENV_WEIGHTS,
        backbone_candidates,
    )

    filename, expected = BACKBONE_FILES[net]
    cands = backbone_candidates(net)
    where = tuple(f"{p} (${ENV_WEIGHTS})" if os.environ.get(ENV_WEIGHTS) else str(p) for p in cands)
    where += ("or --lpips-weights PATH",)
    path = next((p for p in cands if p.is_file()), None)
    enables = f"LPIPS --lpips-net {net}" + (" (the default)" if net == "alex" else "")
    if path is None:
        return Finding(f"LPIPS {net} backbone", enables, False, f"{filename} not found", where)
    digest = file_sha256(path)
    note = "" if expected is None else (" (sha256 as torchvision publishes it)" if digest == expected
                                        else f" (sha256 differs from torchvision's {expected[:12]}...)")
    return Finding(f"LPIPS {net} backbone", enables, True, f"{path}{note}", where, digest)


def _vgg19() -> Finding:
    from srbench.training.losses import VGG19_FILE, vgg_weights_candidates  # deferred: it imports torch, tqdm

    cands = vgg_weights_candidates()
    path = next((p for p in cands if p.is_file()), None)
    return Finding("VGG19 (training)", "srbench train srgan --content-loss vgg22/vgg54", path is not None,
                   str(path) if path else f"{VGG19_FILE} not found",
                   tuple(str(p) for p in cands) + ("or --vgg-weights PATH",))


def _cuda() -> Finding:
    try:
        import torch
    except ImportError:
        return Finding("CUDA", "--device cuda", False, "torch not installed", ("torch.cuda",))
    if not torch.cuda.is_available():
        why = "torch built without CUDA" if torch.version.cuda is None else "no CUDA device visible"
        return Finding("CUDA", "--device cuda", False, why, ("torch.cuda (CUDA_VISIBLE_DEVICES)",))
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return Finding("CUDA", "--device cuda", True, f"CUDA {torch.version.cuda}: " + ", ".join(names),
                   ("torch.cuda (CUDA_VISIBLE_DEVICES)",))


def _niqe_model() -> Finding:
    from srbench.metrics.niqe import PARAMS_FILE  # deferred: it imports scipy

    ok = PARAMS_FILE.is_file()
    return Finding("NIQE pristine model", "--metrics niqe", ok, str(PARAMS_FILE) if ok else "missing from the package",
                   (str(PARAMS_FILE),), file_sha256(PARAMS_FILE) if ok else None)


def _data_folder() -> Finding:
    from srbench.data.local import data_roots, local_datasets  # deferred: it imports PIL

    roots = data_roots()
    present = {name: copy for name, copy in local_datasets().items() if copy is not None}
    listing = ", ".join(f"{name} ({copy.n_images} in {copy.hr_dir.parent.parent})" for name, copy in present.items())
    first = roots[0][1]
    found = f"{first}: " + (listing if present else "no catalogue dataset yet (`srbench datasets fetch set5`)")
    where = tuple(f"{path} ({label})" for label, path in roots) + ("or --data-dir DIR",)
    return Finding("Datasets folder", "--datasets set5,set14,b100,... without downloading", bool(present), found,
                   where)


def diagnose() -> list[Finding]:
    """Every optional component srbench can use, in a fixed order."""
    lp = _package("lpips", "lpips", "LPIPS (with a backbone below)")
    return [
        lp,
        _lpips_backbone("alex"),
        _lpips_backbone("vgg"),
        _niqe_model(),
        _data_folder(),
        _vgg19(),
        _package("tensorflow", "tensorflow", "keras:PATH models (.keras / SavedModel)",
                 ("tensorflow-cpu", "tensorflow-gpu", "tf-nightly")),
        _package("onnxruntime", "onnxruntime", "onnx:PATH models", ("onnxruntime-gpu",)),
        _package("spandrel", "spandrel", "file:PATH models (architecture detected from the weights)"),
        _package("numba", "numba", "fast imresize backend (same results as numpy)"),
        _cuda(),
    ]


def render(findings: list[Finding]) -> str:
    """Plain-text listing: one block per component."""
    lines = []
    for f in findings:
        lines.append(f"[{'x' if f.present else ' '}] {f.name}: {f.found}")
        lines.append(f"      enables: {f.enables}")
        if f.sha256:
            lines.append(f"      sha256:  {f.sha256}")
        lines.append("      looked in: " + "; ".join(f.where))
    return "\n".join(lines)
