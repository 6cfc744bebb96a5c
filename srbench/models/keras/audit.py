"""What a ``keras:PATH`` file may contain before srbench runs it: an allow-list of what SR models use.

A SavedModel is a TensorFlow graph: it runs no Python, but TensorFlow ops can read and write files
(``ReadFile``, ``WriteFile``, ``Save*``), list folders, run Python callbacks registered in the process
(``PyFunc``) or print to files. Before loading one, :func:`audit_saved_model` parses ``saved_model.pb``
(protobuf only: nothing is loaded or run) and checks the op type of every node of every MetaGraph's graph
and of every function in its function library against :data:`ALLOWED_OPS`. Only the saver's own functions
and nodes, those reachable from the ``saver_def``'s restore / save names and from nothing else, may also use
the checkpoint ops TensorFlow needs to restore (:data:`RESTORE_OPS`) or save (:data:`SAVE_OPS`) variables.

A ``.keras`` / whole-model ``.h5`` file is a JSON config plus weights: :func:`audit_keras_config` checks every
object the config names (layers, initializers, functions) against Keras' own modelling classes and
srbench's registered layers, refusing layers that load other files (``TFSMLayer``, lookup layers with a
vocabulary file), other packages' registered objects and Keras 2 ``TFOpLambda`` ops outside
:data:`TF_FUNCTIONS`. Python ``Lambda`` code is Keras' ``safe_mode``'s business (refused by default).

Every refusal is a ModelError naming the file, the op or object types and where they sit; the ``trust``
option (:mod:`srbench.models.trust`) skips the inspection.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from srbench.interfaces import ModelError
from srbench.models.keras._tf import import_h5py, import_tensorflow, layer_classes
from srbench.models.trust import opt_out

# The ops of convolutional / attention SR networks as TensorFlow and Keras 3 trace them: plumbing, variables,
# convolutions and matmuls, normalisation, activations, arithmetic, reductions, resizing and pixel shuffles,
# shape manipulation, random numbers (initializers, dropout), and control flow (whose branch and body
# functions are checked like the others).
ALLOWED_OPS = frozenset("""
Const Placeholder PlaceholderWithDefault Identity IdentityN NoOp StopGradient PreventGradient Snapshot EnsureShape
CheckNumerics CheckNumericsV2 Assert StatefulPartitionedCall PartitionedCall If StatelessIf While StatelessWhile
Case StatelessCase
VarHandleOp ReadVariableOp AssignVariableOp AssignAddVariableOp AssignSubVariableOp VarIsInitializedOp
DestroyResourceOp DisableCopyOnRead ResourceGather VariableV2 Variable Assign AssignAdd AssignSub
IsVariableInitialized
Conv2D Conv3D Conv Conv2DBackpropInput Conv3DBackpropInputV2 DepthwiseConv2dNative
DepthwiseConv2dNativeBackpropInput MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 Einsum BiasAdd BiasAddV1
FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3 MaxPool MaxPoolV2 AvgPool ExtractImagePatches
Relu Relu6 Elu Selu LeakyRelu Sigmoid Tanh Softplus Softsign Softmax LogSoftmax Erf Erfc Exp Expm1 Log Log1p
Sqrt Rsqrt Square Pow Abs Neg Sign Reciprocal Inv Floor Ceil Round Rint Sin Cos Tan Atan Atan2 IsNan IsInf
IsFinite
Add AddV2 AddN Sub Mul MulNoNan Div DivNoNan RealDiv FloorDiv FloorMod TruncateDiv Mod Maximum Minimum
SquaredDifference ClipByValue Equal NotEqual Less LessEqual Greater GreaterEqual LogicalAnd LogicalOr LogicalNot
Sum Mean Max Min Prod All Any ArgMax ArgMin Cumsum Cumprod
ResizeBilinear ResizeBicubic ResizeNearestNeighbor ResizeArea ScaleAndTranslate DepthToSpace SpaceToDepth
BatchToSpaceND SpaceToBatchND
Shape ShapeN Size Rank Cast Bitcast Fill ZerosLike OnesLike Range Pack Unpack Squeeze ExpandDims Reshape
Transpose Tile BroadcastTo BroadcastArgs Concat ConcatV2 Split SplitV Slice StridedSlice Gather GatherV2 GatherNd
Pad PadV2 MirrorPad Reverse ReverseV2 Roll Select SelectV2 Where OneHot
RandomUniform RandomUniformInt RandomStandardNormal TruncatedNormal StatelessRandomUniform StatelessRandomNormal
StatelessTruncatedNormal StatelessRandomUniformV2 StatelessRandomNormalV2 StatelessTruncatedNormalV2
StatelessRandomGetKeyCounter
""".split())

# What restoring variables from ``variables/`` needs (TF1 ``save/restore_all``, TF2 ``__inference__traced_restore``).
RESTORE_OPS = frozenset("RestoreV2 Restore RestoreSlice StringJoin ShardedFilename ShardedFilespec".split())
# What saving them needs (never run by srbench, allowed only where TensorFlow's own saver puts them).
SAVE_OPS = RESTORE_OPS | frozenset(
    "SaveV2 Save SaveSlices MergeV2Checkpoints StaticRegexFullMatch RegexFullMatch".split())


def _node_name(ref: str) -> str:
    """``"save/Const:0"`` / ``"^save/restore_all"`` -> the node name."""
    return ref.lstrip("^").split(":")[0]


def _called(node: Any, library: set[str]) -> Iterator[str]:
    """Names of the library functions ``node`` calls: its op itself, or function-valued attributes."""
    if node.op in library:
        yield node.op
    for value in node.attr.values():
        if value.HasField("func"):
            yield value.func.name
        if value.HasField("list"):
            yield from (f.name for f in value.list.func)


def _closure(start: Iterable[str], calls: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name not in seen and name in calls:
            seen.add(name)
            todo.extend(calls[name])
    return seen


def _ancestors(roots: Iterable[str], graph: dict[str, Any]) -> set[str]:
    """Names of the graph nodes ``roots`` depend on (data and control inputs), the roots included."""
    seen: set[str] = set()
    todo = [_node_name(r) for r in roots if r]
    while todo:
        name = todo.pop()
        if name not in seen and name in graph:
            seen.add(name)
            todo.extend(_node_name(i) for i in graph[name].input)
    return seen


def meta_graph_findings(meta_graph: Any) -> dict[str, set[str]]:
    """Where -> op types outside the allow-lists, for one ``MetaGraphDef`` (empty: nothing to refuse).

    "where" is ``"function NAME"`` or ``"graph"``. A node or function in the saver's restore (save) path may
    also use RESTORE_OPS (SAVE_OPS) only when no other node or function reaches it.
    """
    graph_def = meta_graph.graph_def
    nodes = {n.name: n for n in graph_def.node}
    functions = {f.signature.name: f for f in graph_def.library.function}
    library = set(functions)
    calls = {name: {c for n in f.node_def for c in _called(n, library)} for name, f in functions.items()}
    saver = meta_graph.saver_def
    restore_nodes = _ancestors([saver.restore_op_name], nodes)
    save_nodes = _ancestors([saver.save_tensor_name], nodes) - restore_nodes
    other_nodes = set(nodes) - restore_nodes - save_nodes

    def reached_from(names: set[str]) -> set[str]:
        return _closure((c for name in names for c in _called(nodes[name], library)), calls)

    restore_fns = reached_from(restore_nodes)
    save_fns = reached_from(save_nodes) - restore_fns
    other_fns = _closure(set(library) - restore_fns - save_fns, calls) | reached_from(other_nodes)
    restore_fns -= other_fns
    save_fns -= other_fns

    found: dict[str, set[str]] = {}

    def check(where: str, ops: Iterable[str], extra: frozenset[str]) -> None:
        bad = {op for op in ops if op not in ALLOWED_OPS and op not in extra and op not in library}
        if bad:
            found.setdefault(where, set()).update(bad)

    for name, node in nodes.items():
        extra = RESTORE_OPS if name in restore_nodes else SAVE_OPS if name in save_nodes else frozenset()
        check("graph", [node.op], extra)
    for name, f in functions.items():
        extra = RESTORE_OPS if name in restore_fns else SAVE_OPS if name in save_fns else frozenset()
        check(f"function {name}", (n.op for n in f.node_def), extra)
    return found


def _describe(found: dict[str, set[str]]) -> str:
    return "; ".join(f"{', '.join(sorted(ops))} in {where}" for where, ops in sorted(found.items()))


def audit_saved_model(path: Path, who: str) -> None:
    """Refuse (ModelError naming ``who`` and the file) a SavedModel directory whose graphs use an op outside
    the allow-lists; reads ``saved_model.pb`` only, loads and runs nothing."""
    import_tensorflow(who)  # TensorFlow's import order (triton first) before its protobuf modules
    from tensorflow.core.protobuf import saved_model_pb2  # deferred: tensorflow is optional

    pb = path / "saved_model.pb"
    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString(pb.read_bytes())
    except Exception as exc:
        raise ModelError(f"{who}: {pb} is not a readable SavedModel protobuf ({str(exc)[:200]})") from exc
    found: dict[str, set[str]] = {}
    for meta_graph in saved.meta_graphs:
        for where, ops in meta_graph_findings(meta_graph).items():
            found.setdefault(where, set()).update(ops)
    if found:
        raise ModelError(
            f"{who}: {pb} uses TensorFlow operations that an SR model does not need and srbench does not run "
            f"from an untrusted file (they can read or write files, list folders, print or call Python): "
            f"{_describe(found)}. {opt_out('keras', path)}")


# Keras' own layers that SR networks are made of. Left out on purpose: TFSMLayer (loads another SavedModel,
# unchecked), TextVectorization / StringLookup / IntegerLookup (read vocabulary files), JaxLayer / FlaxLayer.
KERAS_LAYERS = frozenset("""
InputLayer Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose DepthwiseConv2D SeparableConv2D
Dense EinsumDense BatchNormalization LayerNormalization GroupNormalization UnitNormalization RMSNormalization
Activation ReLU LeakyReLU PReLU ELU Softmax Add Subtract Multiply Average Maximum Minimum Concatenate Dot
UpSampling2D ZeroPadding2D Cropping2D Reshape Permute Flatten RepeatVector Rescaling Resizing CenterCrop
Dropout SpatialDropout2D GaussianNoise Identity MaxPooling2D AveragePooling2D GlobalAveragePooling2D
GlobalMaxPooling2D MultiHeadAttention Lambda Functional Sequential Model
""".split())
# Keras' namespaces whose classes and functions are pure modelling objects.
KERAS_AREAS = frozenset({"initializers", "regularizers", "constraints", "dtype_policies", "activations", "ops"})
# Keras 2 ``TFOpLambda`` / ``SlicingOpLambda`` functions (an ``.h5`` from tf.keras) that only compute.
TF_FUNCTIONS = frozenset("""
__operators__.add __operators__.getitem math.add math.subtract math.multiply math.truediv math.divide
math.maximum math.minimum math.tanh math.sigmoid math.sqrt math.square math.abs math.negative clip_by_value
nn.relu nn.leaky_relu nn.depth_to_space nn.space_to_depth nn.bias_add image.resize concat reshape transpose
compat.v1.transpose split pad identity cast expand_dims squeeze stack tile
""".split())
SPECIAL = frozenset({"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__",
                     "__typespec__", "__lambda__"})  # __lambda__: Python code, refused by Keras' safe_mode


def _objects(config: Any, where: str = "model") -> Iterator[tuple[dict[str, Any], str]]:
    """Every serialised object (a dict with ``class_name``) in ``config``, with the name of its layer."""
    if isinstance(config, dict):
        if isinstance(config.get("class_name"), str):
            inner = config.get("config")
            name = inner.get("name") if isinstance(inner, dict) else None
            where = f"layer {name!r}" if isinstance(name, str) and config["class_name"] not in SPECIAL else where
            yield config, where
        for value in config.values():
            yield from _objects(value, where)
    elif isinstance(config, list):
        for value in config:
            yield from _objects(value, where)


def _keras_area(module: str) -> str | None:
    """``"layers"`` for ``keras.layers`` / ``keras.src.layers.core.dense``; ``""`` for ``keras``; None: not Keras."""
    parts = module.split(".")
    if parts[0] != "keras":
        return None
    parts = [p for p in parts[1:] if p != "src"]
    return parts[0] if parts else ""


def _refusal(obj: dict[str, Any], keras: Any, registered: frozenset[str]) -> str | None:
    """Why ``obj`` is refused, or None when it is an allowed modelling object."""
    cls, module = obj["class_name"], obj.get("module")
    reg = obj.get("registered_name")
    if cls in SPECIAL:
        return None
    if ">" in cls and module is None:  # a Keras 2 (.h5) config names a registered object by its name
        reg = cls
    if isinstance(reg, str) and ">" in reg:  # a registered custom object: only srbench's own
        return None if reg in registered else f"custom object {reg!r}"
    if cls in ("TFOpLambda", "SlicingOpLambda"):
        fn = (obj.get("config") or {}).get("function")
        return None if fn in TF_FUNCTIONS else f"{cls} calling tf.{fn}"
    if cls == "function":
        fn = obj.get("config")
        area = "activations" if module == "builtins" else _keras_area(module or "")
        return None if area in KERAS_AREAS else f"function {module}.{fn}"
    area = _keras_area(module) if isinstance(module, str) else None
    if module is None:  # a Keras 2 (.h5) config names classes without their module
        if cls in KERAS_LAYERS or any(hasattr(getattr(keras, a, None), cls) for a in KERAS_AREAS):
            return None
    elif area in ("layers", "models", "") and cls in KERAS_LAYERS or area in KERAS_AREAS:
        return None
    elif area == "" and cls.endswith("DTypePolicy"):
        return None
    return f"{cls} ({module})" if module else cls


def keras_config(path: Path, who: str) -> Any:
    """The model config (parsed JSON) of a ``.keras`` file or a whole-model ``.h5`` file."""
    try:
        if path.suffix == ".h5":
            with import_h5py(who).File(path, "r") as f:
                text = f.attrs["model_config"]
        else:
            with zipfile.ZipFile(path) as z:
                text = z.read("config.json")
        return json.loads(text)
    except Exception as exc:
        raise ModelError(f"{who}: cannot read the model config of {path} ({str(exc)[:200]})") from exc


def audit_keras_config(config: Any, path: Path, who: str, keras: Any, registered: Iterable[str]) -> None:
    """Refuse (ModelError naming ``who``, the file, the objects and their layers) a Keras model config naming
    anything outside Keras' modelling classes (:data:`KERAS_LAYERS`, :data:`KERAS_AREAS`) and ``registered``
    (the ``"package>Name"`` of srbench's own layers)."""
    allowed = frozenset(registered)
    found: dict[str, set[str]] = {}
    for obj, where in _objects(config):
        why = _refusal(obj, keras, allowed)
        if why:
            found.setdefault(where, set()).add(why)
    if found:
        raise ModelError(
            f"{who}: {path} names objects outside Keras' own modelling layers and srbench's registered ones "
            f"(they could load other files or run other code): {_describe(found)}. {opt_out('keras', path)}")


def audit_keras_file(path: Path, who: str) -> None:
    """:func:`audit_keras_config` on the config of the ``.keras`` / ``.h5`` file ``path``; loads nothing."""
    keras = import_tensorflow(who)[1]
    registered = [keras.saving.get_registered_name(layer_classes())]
    audit_keras_config(keras_config(path, who), path, who, keras, registered)
