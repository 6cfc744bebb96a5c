"""keras:PATH inspects a file before running it: a SavedModel whose graph reads and writes files, or a .keras
config naming a layer that loads another graph, is refused (nothing written) unless ``?trust=true``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srbench.interfaces import ModelError

pytest.importorskip("tensorflow")


def _tf() -> tuple[Any, Any]:
    from srbench.models.keras._tf import import_tensorflow

    return import_tensorflow("test")  # triton before TensorFlow, as srbench does


def hostile_savedmodel(root: Path) -> tuple[Path, Path]:
    """(SavedModel dir, marker path): a x2 'SR model' whose serving function copies secret.txt to the marker
    and writes a checkpoint next to it: TensorFlow ops only, no Python."""
    tf, _ = _tf()
    (root / "secret.txt").write_text("secret")
    marker, secret, prefix = (str(root / n) for n in ("marker", "secret.txt", "ckpt"))

    class Hostile(tf.Module):
        def __init__(self) -> None:
            self.gain = tf.Variable(1.0)

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def serve(self, x: Any) -> dict[str, Any]:
            tf.io.write_file(marker, tf.io.read_file(secret))
            tf.raw_ops.SaveV2(prefix=prefix, tensor_names=["x"], shape_and_slices=[""], tensors=[x])
            return {"sr": tf.image.resize(x, tf.shape(x)[1:3] * 2, method="nearest") * self.gain}

    module = Hostile()
    path = root / "hostile_savedmodel"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path, Path(marker)


def test_a_savedmodel_reading_and_writing_files_is_refused_unless_trusted(tmp_path: Path) -> None:
    from srbench.registry import get_model

    path, marker = hostile_savedmodel(tmp_path)
    with pytest.raises(ModelError) as err:
        get_model(f"keras:{path}", 2)
    text = str(err.value)
    assert not marker.exists()  # refused before anything ran
    assert f"keras:{path}: {path / 'saved_model.pb'} uses TensorFlow operations" in text
    assert "ReadFile, SaveV2, WriteFile in function __inference_serve_" in text  # the serving function's ops
    assert "traced_save" not in text and "traced_restore" not in text  # TF's own saver functions pass
    assert f"keras:{path}?trust=true" in text
    with pytest.raises(ModelError, match="trust must be true or false, got 'maybe'"):
        get_model(f"keras:{path}?trust=maybe", 2)
    model = get_model(f"keras:{path}?trust=true", 2)  # the user's explicit choice: the graph runs
    assert marker.read_text() == "secret" and model.info().extra["trust"] is True


def test_a_keras_file_loading_a_hostile_savedmodel_through_tfsmlayer_is_refused(tmp_path: Path) -> None:
    _, keras = _tf()
    from srbench.models.keras.saved import build

    sm, marker = hostile_savedmodel(tmp_path)
    inp = keras.Input((None, None, 3))
    out = keras.layers.TFSMLayer(str(sm), call_endpoint="serving_default")(inp)["sr"]
    path = tmp_path / "wrapper.keras"
    keras.Model(inp, out).save(str(path))
    with pytest.raises(ModelError, match=r"names objects outside Keras' own.*TFSMLayer \(keras.layers\) in layer "
                                         r"'tfsm_layer'.*\?trust=true"):
        build(2, path=str(path))
    assert not marker.exists()


def test_an_sr_keras_file_passes_and_keeps_loading(tmp_path: Path) -> None:
    """Conv, BN, PReLU, srbench's DepthToSpace, Rescaling: allowed in .keras and .h5 configs and as graph ops."""
    _, keras = _tf()
    from srbench.models.keras._tf import layer_classes
    from srbench.models.keras.audit import audit_keras_file, audit_saved_model
    from srbench.models.keras.saved import build

    inp = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = keras.layers.BatchNormalization()(keras.layers.Conv2D(12, 3, padding="same")(x))
    x = keras.layers.PReLU(shared_axes=[1, 2])(x)
    out = keras.layers.Rescaling(255.0)(layer_classes()(2)(x))
    net = keras.Model(inp, out)
    for name in ("sr.keras", "sr.h5"):
        net.save(str(tmp_path / name))
        audit_keras_file(tmp_path / name, "t")
    net.export(str(tmp_path / "sr_savedmodel"), verbose=False)
    audit_saved_model(tmp_path / "sr_savedmodel", "t")
    assert build(2, path=str(tmp_path / "sr.keras")).info().extra["trust"] is False


def _config(*layers: dict[str, Any]) -> dict[str, Any]:
    return {"class_name": "Functional", "module": "keras.src.models.functional", "registered_name": "Functional",
            "config": {"name": "m", "layers": list(layers)}}


def test_keras_configs_name_only_keras_modelling_objects_and_srbench_layers() -> None:
    _, keras = _tf()
    from srbench.models.keras.audit import audit_keras_config

    def audit(*layers: dict[str, Any]) -> None:
        audit_keras_config(_config(*layers), Path("m.h5"), "keras:m.h5", keras, ["srbench>DepthToSpace"])

    conv = {"class_name": "Conv2D", "config": {"name": "c", "kernel_initializer": {"class_name": "GlorotUniform",
                                                                                     "config": {"seed": None}}}}
    d2s = {"class_name": "DepthToSpace", "module": "srbench.models.keras._tf",
           "registered_name": "srbench>DepthToSpace", "config": {"name": "d", "block_size": 2}}
    op = {"class_name": "TFOpLambda", "config": {"name": "tf.nn.depth_to_space", "function": "nn.depth_to_space"}}
    audit(conv, d2s, op)  # a Keras 2 .h5 config (no modules), srbench's layer, a computing TF op
    write = {"class_name": "TFOpLambda", "config": {"name": "w", "function": "io.write_file"}}
    with pytest.raises(ModelError, match=r"TFOpLambda calling tf.io.write_file in layer 'w'.*m.h5\?trust=true"):
        audit(conv, write)
    other = {"class_name": "Evil", "module": "evil", "registered_name": "evil>Evil", "config": {"name": "e"}}
    with pytest.raises(ModelError, match=r"custom object 'evil>Evil' in layer 'e'"):
        audit(other)
    fn = {"class_name": "Activation", "module": "keras.layers",
          "config": {"name": "a", "activation": {"class_name": "function", "module": "os", "config": "system"}}}
    with pytest.raises(ModelError, match=r"function os.system in layer 'a'"):
        audit(fn)
    lookup = {"class_name": "StringLookup", "module": "keras.layers", "config": {"name": "s", "vocabulary": "/etc"}}
    with pytest.raises(ModelError, match=r"StringLookup \(keras.layers\) in layer 's'"):
        audit(lookup)


def test_checkpoint_ops_pass_only_on_the_savers_own_path() -> None:
    """A TF1-style graph: RestoreV2 under save/restore_all passes; a WriteFile the restore depends on, and a
    RestoreV2 elsewhere, are refused."""
    _tf()
    from tensorflow.core.protobuf import meta_graph_pb2

    from srbench.models.keras.audit import meta_graph_findings

    mg = meta_graph_pb2.MetaGraphDef()
    mg.saver_def.restore_op_name = "save/restore_all"
    for name, op, inputs in [("v", "VariableV2", []), ("save/Const", "Const", []),
                             ("save/RestoreV2", "RestoreV2", ["save/Const"]),
                             ("save/Assign", "Assign", ["v", "save/RestoreV2:0"]),
                             ("save/restore_all", "NoOp", ["^save/Assign"])]:
        mg.graph_def.node.add(name=name, op=op, input=inputs)
    assert meta_graph_findings(mg) == {}
    mg.graph_def.node.add(name="evil", op="WriteFile", input=["save/Const", "save/Const"])
    mg.graph_def.node.add(name="read/RestoreV2", op="RestoreV2", input=["save/Const"])
    mg.graph_def.node[4].input.append("^evil")
    assert meta_graph_findings(mg) == {"graph": {"WriteFile", "RestoreV2"}}
