"""onnx:PATH inspects the file before onnxruntime opens it: custom operator domains and external data outside
the model's folder are refused unless ``?trust=true``; standard graphs, local functions and subgraphs pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srbench.interfaces import ModelError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

SCALES = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])


def _model(nodes: list[Any], *, out: str = "sr", inits: list[Any] = (), functions: list[Any] = (),
           domains: dict[str, int] | None = None) -> Any:
    """A x2 'SR model' (nearest Resize, then ``nodes``) taking lr (N, 3, H, W) float32."""
    resize = helper.make_node("Resize", ["lr", "", "scales"], ["up"], mode="nearest")
    graph = helper.make_graph([resize, *nodes], "g",
                              [helper.make_tensor_value_info("lr", TensorProto.FLOAT, ["n", 3, "h", "w"])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                              initializer=[SCALES, *inits])
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, v) for d, v in (domains or {}).items()]
    return helper.make_model(graph, opset_imports=opsets, functions=list(functions), ir_version=8)


def _external(location: str) -> Any:
    """A float tensor ``gain`` (1 value) whose data is in the file ``location``."""
    gain = TensorProto(name="gain", dims=[1], data_type=TensorProto.FLOAT, data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", "0"), ("length", "4")):
        gain.external_data.add(key=key, value=value)
    return gain


def _save(model: Any, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def test_a_custom_operator_domain_is_refused_unless_trusted(tmp_path: Path) -> None:
    """com.microsoft's Gelu runs in onnxruntime today; it is a non-standard domain, so it needs trust=true."""
    from srbench.models.files.onnx import build, describe
    from srbench.registry import get_model

    gelu = helper.make_node("Gelu", ["up"], ["sr"], domain="com.microsoft")
    path = _save(_model([gelu], domains={"com.microsoft": 1}), tmp_path / "contrib.onnx")
    with pytest.raises(ModelError) as err:
        get_model(f"onnx:{path}", 2)
    assert (f"onnx:{path}: {path} holds what srbench does not run from an untrusted file: operator "
            f"com.microsoft.Gelu (custom domain) in graph. Load it only if you trust the file, with "
            f"onnx:{path}?trust=true") in str(err.value)
    with pytest.raises(ModelError, match="com.microsoft.Gelu"):
        describe(path)  # srbench models inspect runs the file too
    with pytest.raises(ModelError, match="trust must be true or false"):
        build(2, path=str(path), trust="sure")
    model = get_model(f"onnx:{path}?trust=true", 2)
    assert model.info().extra["trust"] is True
    evil = helper.make_node("WriteFile", ["up"], ["sr"], domain="evil.ops")
    path = _save(_model([evil], domains={"evil.ops": 1}), tmp_path / "evil.onnx")
    with pytest.raises(ModelError, match=r"operator evil.ops.WriteFile \(custom domain\) in graph"):
        build(2, path=str(path))


def test_external_data_outside_the_models_folder_is_refused(tmp_path: Path) -> None:
    from srbench.models.files.onnx import build

    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 4)
    for location in ("../outside.bin", str(tmp_path / "outside.bin")):
        mul = helper.make_node("Mul", ["up", "gain"], ["sr"])
        path = _save(_model([mul], inits=[_external(location)]), folder / "m.onnx")
        with pytest.raises(ModelError, match=rf"tensor 'gain' with external data '{location}' outside the model's "
                                             r"folder, in graph\..*\?trust=true"):
            build(2, path=str(path))


def test_findings_cover_subgraphs_local_functions_and_links(tmp_path: Path) -> None:
    from srbench.models.files.onnx_audit import onnx_findings

    body = helper.make_graph([helper.make_node("Spy", ["up"], ["y"], domain="evil")], "then", [],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    cond = helper.make_tensor("c", TensorProto.BOOL, [], [True])
    branch = helper.make_node("If", ["c"], ["sr"], name="if0", then_branch=body, else_branch=body)
    assert sorted(onnx_findings(_model([branch], inits=[cond]), tmp_path)) == [
        "operator evil.Spy (custom domain) in graph > If if0.else_branch",
        "operator evil.Spy (custom domain) in graph > If if0.then_branch"]
    double = helper.make_function("local", "Double", ["x"], ["y"], [helper.make_node("Add", ["x", "x"], ["y"])],
                                  [helper.make_opsetid("", 17)])
    call = helper.make_node("Double", ["up"], ["sr"], domain="local")
    assert onnx_findings(_model([call], functions=[double], domains={"local": 1}), tmp_path) == []
    spy = helper.make_function("local", "Double", ["x"], ["y"], [helper.make_node("Spy", ["x"], ["y"], domain="evil")],
                               [helper.make_opsetid("evil", 1)])
    assert onnx_findings(_model([call], functions=[spy], domains={"local": 1}), tmp_path) == [
        "operator evil.Spy (custom domain) in function local.Double"]
    (tmp_path / "w.bin").write_bytes(b"\0" * 4)
    (tmp_path / "link.bin").symlink_to(tmp_path.parent / "elsewhere.bin")
    found = []
    for location in ("w.bin", "link.bin"):
        mul = helper.make_node("Mul", ["up", "gain"], ["sr"])
        found += onnx_findings(_model([mul], inits=[_external(location)]), tmp_path)
    assert found == ["tensor 'gain' with external data 'link.bin' outside the model's folder, in graph"]
