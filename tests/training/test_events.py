"""TensorBoard scalars without TensorFlow (issue 21.4: every training start imported TensorFlow, 17 s)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from srbench.training.events import ScalarWriter, masked_crc32c
from tests.training.helpers import tiny_overrides

REPO = Path(__file__).resolve().parents[2]


def _records(path: Path) -> list[bytes]:
    """The TFRecords of an event file, each checksum checked with TensorBoard's own masked CRC-32C."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as reference

    data, out, i = path.read_bytes(), [], 0
    while i < len(data):
        header = data[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[i + 8:i + 12])[0] == reference(header)
        body = data[i + 12:i + 12 + length]
        assert struct.unpack("<I", data[i + 12 + length:i + 16 + length])[0] == reference(body)
        out.append(body)
        i += 16 + length
    return out


@pytest.mark.parametrize("data", [b"", b"a", b"123456789", bytes(range(256)) * 3])
def test_the_checksum_is_tensorboards(data: bytes) -> None:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as reference

    assert masked_crc32c(data) == reference(data)


def test_scalars_read_back_as_tensorboard_events(tmp_path: Path) -> None:
    from tensorboard.compat.proto.event_pb2 import Event

    with ScalarWriter(tmp_path / "tb") as w:
        w.add_scalar("val/psnr", 28.25, 1000)
        w.add_scalar("train/lr", 1e-4, 1050)
    events = [Event.FromString(r) for r in _records(w.path)]
    assert events[0].file_version == "brain.Event:2"
    got = [(e.step, v.tag, v.simple_value) for e in events[1:] for v in e.summary.value]
    assert got == [(1000, "val/psnr", 28.25), (1050, "train/lr", pytest.approx(1e-4))]
    assert w.path.name.startswith("events.out.tfevents.")


def test_a_training_start_does_not_import_tensorflow(tiny_data: dict[str, Path], tmp_path: Path) -> None:
    """In a fresh interpreter (TensorFlow is installed here): train two steps with TensorBoard on."""
    cfg = tiny_overrides(tiny_data, tmp_path / "run", steps=2, ckpt_every=2, log_every=1, tensorboard=True)
    script = ("import json, sys\n"
              "from srbench.training.config import load_config\n"
              "from srbench.training.loop import train\n"
              f"train(load_config(None, json.loads({json.dumps(json.dumps(cfg))})))\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == []
    assert "absl" not in proc.stderr and "TensorFlow" not in proc.stderr
    (events,) = (tmp_path / "run" / "tb").glob("events.out.tfevents.*")
    from tensorboard.compat.proto.event_pb2 import Event

    tags = {v.tag for r in _records(events) for v in Event.FromString(r).summary.value}
    assert {"train/content", "train/lr"} <= tags
