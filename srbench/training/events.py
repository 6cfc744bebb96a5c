"""TensorBoard scalars without TensorFlow: an event file written record by record.

``torch.utils.tensorboard`` imports TensorFlow when it is installed (through ``tensorboard.compat.tf``):
tens of seconds at every training start and two blocks of absl log noise. Scalars need none of it: an
event file is a sequence of TFRecords (length, masked CRC-32C of the length, the serialised ``Event``
proto, masked CRC-32C of the data), and the protos come from ``tensorboard.compat.proto`` alone, which
imports protobuf and nothing of TensorFlow. TensorBoard reads these files like any other.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path
from typing import Any

__all__ = ["ScalarWriter", "masked_crc32c"]


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # Castagnoli polynomial, reflected
        table.append(c)
    return table


_TABLE = _crc32c_table()


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The TFRecord checksum: CRC-32C rotated right by 15 bits plus a constant (TensorFlow's crc32c::Mask).
    Pure Python: a scalar record is ~50 bytes, written every ``log_every`` steps."""
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class ScalarWriter:
    """``add_scalar(tag, value, step)`` into ``logdir/events.out.tfevents.<time>.<host>.<pid>.0``.

    Each record is flushed as it is written (a scalar every ``log_every`` steps: negligible I/O), so a
    TensorBoard watching the folder, or a run killed without ``close()``, sees every value.
    """

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2  # deferred: protobuf only, no TensorFlow

        self._event, self._summary = event_pb2.Event, summary_pb2.Summary
        folder = Path(logdir)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.0"
        self._file: Any = open(self.path, "ab")  # noqa: SIM115 (held open until close())
        self._record(self._event(wall_time=time.time(), file_version="brain.Event:2"))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        summary = self._summary(value=[self._summary.Value(tag=tag, simple_value=float(value))])
        self._record(self._event(wall_time=time.time(), step=int(step), summary=summary))

    def _record(self, event: Any) -> None:
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._file.write(header + struct.pack("<I", masked_crc32c(header)) + data
                         + struct.pack("<I", masked_crc32c(data)))
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> ScalarWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
