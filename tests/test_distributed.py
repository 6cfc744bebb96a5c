"""srbench.distributed: sharding, gathering, and a real 2-process (gloo) evaluation equal to 1 process."""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest

from srbench.distributed import DistInfo, gather_rows, init_from_env, shard, unshard
from srbench.interfaces import ImagePair, ResultRow

SCALE = 2


def _pairs() -> list[ImagePair]:
    """Five deterministic synthetic pairs (odd count: uneven shards), one grayscale, varied sizes."""
    rng = np.random.default_rng(7)
    out = []
    for i, (h, w, c) in enumerate([(24, 32, 3), (20, 20, 3), (30, 18, 1), (16, 28, 3), (22, 26, 3)]):
        hr = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        lr = hr[::SCALE, ::SCALE]
        out.append(ImagePair(id=f"img{i}", lr=np.ascontiguousarray(lr), hr=hr, scale=SCALE))
    return out


def _rows_for(model: object, pair: ImagePair) -> list[ResultRow]:
    """What the evaluate loop does per image: upscale, quantise to uint8, PSNR/SSIM on Y (crop = scale)."""
    from srbench.pipeline import run_model, score

    values = score(run_model(model, pair), pair.hr, SCALE, ("psnr", "ssim"), "y", None)  # type: ignore[arg-type]
    return [ResultRow("bicubic", "synthetic", SCALE, pair.id, m, v) for m, v in values.items()]


def _evaluate(info: DistInfo) -> list[ResultRow]:
    from srbench.registry import get_model

    model = get_model("bicubic", SCALE)
    per_item = [_rows_for(model, p) for p in shard(_pairs(), info)]
    return [r for item in gather_rows(per_item, info) for r in item]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch

    torch.set_num_threads(1)
    from srbench.distributed import shutdown

    info = init_from_env("cpu")
    try:
        rows = _evaluate(info)
        mine = [p.id for p in shard(_pairs(), info)]
        Path(out_dir, f"rank{rank}.pkl").write_bytes(pickle.dumps((info, rows, mine)))
    finally:
        shutdown(info)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_gloo_processes_equal_single_process_row_for_row(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.multiprocessing as mp

    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    single = _evaluate(init_from_env("cpu"))
    assert len(single) == 10
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    results = [pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in range(2)]
    for r, (info, rows, _mine) in enumerate(results):
        assert (info.rank, info.world_size, info.backend, info.initialized) == (r, 2, "gloo", True)
        assert rows == single  # every rank gets all rows, in single-process order, bit-identical values
    assert results[0][2] == ["img0", "img2", "img4"] and results[1][2] == ["img1", "img3"]


def test_init_outside_torchrun_is_a_noop(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    info = init_from_env("cpu")
    assert info == DistInfo() and info.is_main and info.device == "cpu"
    assert gather_rows([[1], [2]], info) == [[1], [2]]


def test_init_world_size_one_stays_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")
    assert init_from_env("cpu") == DistInfo()


def test_init_rejects_bad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")
    with pytest.raises(ValueError, match="RANK=3, WORLD_SIZE=2"):
        init_from_env("cpu")
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK='x'"):
        init_from_env("cpu")


@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 8])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shard_is_a_partition_and_unshard_inverts_it(n: int, world: int) -> None:
    items = [f"x{i}" for i in range(n)]
    parts = [shard(items, DistInfo(rank=r, world_size=world)) for r in range(world)]
    assert sorted(sum(parts, [])) == sorted(items)  # every item exactly once
    assert parts[0] == items[0::world]  # round-robin, deterministic
    assert unshard(parts) == items


def test_unshard_rejects_wrong_lengths() -> None:
    with pytest.raises(ValueError, match="rank 0 returned 2 items, round-robin sharding of 5 gives 3"):
        unshard([["a", "b"], ["c", "d", "e"]])


def test_shard_rejects_invalid_info() -> None:
    with pytest.raises(ValueError, match="rank 2 of 2"):
        shard([1, 2], DistInfo(rank=2, world_size=2))


@pytest.mark.slow
def test_torchrun_two_processes_equal_single_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real launcher: ``torchrun --nproc-per-node 2`` sets the environment init_from_env reads."""
    import subprocess
    import sys

    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    single = _evaluate(init_from_env("cpu"))
    script = tmp_path / "job.py"
    script.write_text(
        "import pickle, sys\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from srbench.distributed import init_from_env, shutdown\n"
        "from tests.test_distributed import _evaluate\n"
        "info = init_from_env('cpu')\n"
        "rows = _evaluate(info)\n"
        f"Path({str(tmp_path)!r}, f'rank{{info.rank}}.pkl').write_bytes(pickle.dumps((info, rows)))\n"
        "shutdown(info)\n"
    )
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--nproc-per-node", "2", "--standalone", str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    for r in range(2):
        info, rows = pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes())
        assert (info.rank, info.world_size, info.backend) == (r, 2, "gloo")
        assert rows == single
