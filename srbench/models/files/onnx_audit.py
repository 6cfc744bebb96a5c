"""What an ``onnx:PATH`` file may contain before onnxruntime opens it.

:func:`audit_onnx` reads the file with ``onnx`` (graph only, no external data, nothing run) and refuses:

* nodes of an operator domain other than the standard ones (``''``/``ai.onnx``, ``ai.onnx.ml``), in the main
  graph, in control-flow subgraphs and in model-local functions; a node calling a model-local function
  is fine when that function's body is (onnxruntime's ``com.microsoft`` contrib ops count as custom);
* tensors whose external data file is not inside the model's own folder (absolute paths, ``..``, links
  that lead out of it), wherever the tensor sits (initializers, attributes, subgraphs).

A refusal is a ModelError naming the file and what was found where; ``trust=true`` skips the inspection.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srbench.interfaces import ModelError
from srbench.models.trust import opt_out

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})


def _onnx(name: str) -> Any:
    try:
        import onnx  # deferred: onnx is optional (the onnx extra)
    except ImportError as exc:
        raise ModelError(f"{name}: checking the file's operators needs the onnx package, which is not installed: "
                         f"pip install 'srbench[onnx]' ({exc}); or skip the check with trust=true") from exc
    return onnx


def _graphs(graph: Any, where: str) -> Iterator[tuple[Any, str]]:
    """``graph`` and every subgraph in its nodes' attributes (If/Loop/Scan bodies), with where they sit."""
    yield graph, where
    for node in graph.node:
        for attr in node.attribute:
            subs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for sub in subs:
                yield from _graphs(sub, f"{where} > {node.op_type} {node.name or '?'}.{attr.name}")


def _tensors(graph: Any) -> Iterator[Any]:
    """Every TensorProto of one graph (initializers, sparse initializers, attribute tensors)."""
    yield from getattr(graph, "initializer", ())  # a FunctionProto has no initializers
    for sparse in getattr(graph, "sparse_initializer", ()):
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("sparse_tensor"):
                yield from (attr.sparse_tensor.values, attr.sparse_tensor.indices)


def onnx_findings(model: Any, folder: Path) -> list[str]:
    """What :func:`audit_onnx` refuses in a loaded ``ModelProto`` whose file sits in ``folder`` (empty: nothing)."""
    onnx = _onnx("onnx")
    local = {(f.domain, f.name): f for f in model.functions}
    root = folder.resolve()
    found: list[str] = []
    bodies = [(model.graph, "graph"), *((f, f"function {f.domain}.{f.name}") for f in local.values())]
    for body, where in bodies:
        for graph, at in _graphs(body, where):
            for node in graph.node:
                if node.domain not in STANDARD_DOMAINS and (node.domain, node.op_type) not in local:
                    found.append(f"operator {node.domain}.{node.op_type} (custom domain) in {at}")
            for tensor in _tensors(graph):
                if tensor.data_location != onnx.TensorProto.EXTERNAL:
                    continue
                location = next((e.value for e in tensor.external_data if e.key == "location"), "")
                target = Path(os.path.realpath(root / location))
                if os.path.isabs(location) or not target.is_relative_to(root) or target == root:
                    found.append(f"tensor {tensor.name!r} with external data {location!r} outside the model's "
                                 f"folder, in {at}")
    return found


def audit_onnx(path: Path, name: str) -> None:
    """Refuse (ModelError naming ``name`` and the file) an ONNX file with custom-domain operators or external
    data outside its folder; reads the graph only (no external data, no session)."""
    onnx = _onnx(name)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{name}: cannot load {path}: not a readable ONNX model ({str(exc)[:200]})") from exc
    found = onnx_findings(model, path.parent)
    if found:
        raise ModelError(f"{name}: {path} holds what srbench does not run from an untrusted file: "
                         f"{'; '.join(found)}. {opt_out('onnx', path)}")
