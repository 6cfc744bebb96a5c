"""The protocol record: one type, the same run.json keys and texts as schema v1, read back by check."""

from __future__ import annotations

import json
from pathlib import Path

from srbench.check import protocol_of
from srbench.config import RunConfig, recorded_config
from srbench.protocol import NIQE, Protocol, protocol
from srbench.rundir import load_run_dir

FIXTURE = Path(__file__).parent / "report" / "fixtures" / "bicubic_x4"


def test_to_json_is_schema_v1() -> None:
    """A bicubic psnr/ssim run writes exactly the protocol block of the committed fixture run."""
    fixture = json.loads((FIXTURE / "run.json").read_text(encoding="utf-8"))
    cfg = recorded_config(fixture["config"])  # recorded before `grayscale` existed: raw
    written = protocol(cfg, {"available": False, "reason": "not requested"})
    assert written == fixture["protocol"]
    assert list(written) == list(fixture["protocol"])  # key order too


def test_options_change_the_record() -> None:
    p = Protocol.from_config(RunConfig(lr_source="official", colour="rgb", metrics=("psnr", "niqe")), {})
    d = p.to_json()
    assert d["lr"] == "official LR files of the dataset" and d["lr_source"] == "official"
    assert d["colour"] == "rgb" and d["niqe"] == NIQE
    assert "niqe" not in Protocol.from_config(RunConfig(metrics=("psnr",)), {}).to_json()


def test_read_back_verbatim_and_comparable() -> None:
    run = load_run_dir(FIXTURE)
    p = Protocol.from_run(run.meta)
    assert p.to_json() == run.meta["protocol"]
    assert not p.lpips_available
    # what check compares: the protocol keys, the config's lr_source, LPIPS net/version/range only
    assert protocol_of(run) == {**{k: v for k, v in run.meta["protocol"].items() if k not in ("lpips", "lr_source")},
                                "lr_source": "matlab", "lpips": {"net": None, "version": None, "range": None}}
    odd = Protocol.from_run({"protocol": {"colour": "xyz", "lpips": "legacy text"}, "config": {}})
    assert odd.colour == "xyz" and odd.lr is None and odd.comparable()["lpips"] == "legacy text"
