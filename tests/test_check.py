"""srbench check: 0 on an identical run, 1 on a degraded adapter, 2 when the runs cannot be compared."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from srbench.check import (
    CANNOT_COMPARE,
    DEFAULT_TOLERANCES,
    PASS,
    REGRESSION,
    BaselineError,
    check,
    default_baseline_path,
    load_baseline,
    save_baseline,
)
from srbench.cli import cli
from tests.report.fakerun import make_image_run, write_run
from tests.report.helpers import hr_images
from tests.report.realrun import bicubic_set5_set14_x4

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def images() -> dict:
    return hr_images()


@pytest.fixture(scope="module")
def blessed(tmp_path_factory: pytest.TempPathFactory, images: dict) -> tuple[Path, Path]:
    """A real bicubic + nearest run and its baseline."""
    root = tmp_path_factory.mktemp("check")
    run = make_image_run(root / "base", images, models={"bicubic": "bicubic", "nearest": "nearest"})
    return run, save_baseline(run, root / "baselines" / "base.json")


def rerun(tmp_path: Path, images: dict, models: dict | None = None, **meta) -> Path:
    return make_image_run(tmp_path / "run", images, models=models or {"bicubic": "bicubic", "nearest": "nearest"},
                          meta=meta or None)


def by_key(result) -> dict:
    return {(r.model, r.metric): r for r in result.rows}


def test_identical_run_passes(blessed, images, tmp_path: Path) -> None:
    run, baseline = blessed
    res = check(rerun(tmp_path, images), baseline)  # recomputed from scratch: same numbers
    assert res.status == PASS, res.to_text()
    assert {r.status for r in res.rows} == {"ok"} and len(res.rows) == 2 * 3
    assert all(r.delta == 0.0 for r in res.rows)
    assert res.to_text().startswith("srbench check: PASS (exit 0); 6 ok")


def test_blurred_bicubic_is_a_regression(blessed, images, tmp_path: Path) -> None:
    run, baseline = blessed
    degraded = rerun(tmp_path, images, models={"bicubic": "blurred", "nearest": "nearest"})
    res = check(degraded, baseline)
    assert res.status == REGRESSION, res.to_text()
    rows = by_key(res)
    assert rows[("bicubic", "psnr")].status == "regression" and rows[("bicubic", "psnr")].delta < -0.05
    assert rows[("bicubic", "ssim")].status == "regression"
    assert rows[("bicubic", "lpips")].status == "regression" and rows[("bicubic", "lpips")].delta > 0.005
    assert {rows[("nearest", m)].status for m in ("psnr", "ssim", "lpips")} == {"ok"}
    # the reports say so in every format
    assert "regression" in res.to_text() and "REGRESSION (exit 1)" in res.to_markdown()
    suite = ET.fromstring(res.to_junit_xml())
    assert suite.get("failures") == "3" and suite.get("errors") == "0" and suite.get("tests") == "6"
    failed = {(tc.get("classname"), tc.get("name")) for tc in suite if tc.find("failure") is not None}
    assert failed == {("srbench.set5.x4.bicubic", m) for m in ("psnr", "ssim", "lpips")}
    # an improvement is not a regression: swap roles (blessing the blurred run)
    better = check(run, save_baseline(degraded, tmp_path / "blurred.json"))
    assert better.status == PASS and by_key(better)[("bicubic", "psnr")].status == "improved"


@pytest.mark.parametrize("patch, field", [
    ({"protocol": {"crop_border": "0"}}, "protocol.crop_border"),
    ({"protocol": {"colour": "rgb"}}, "protocol.colour"),
    ({"config": {"lr_source": "official"}}, "protocol.lr_source"),
    ({"protocol": {"modcrop": "12"}}, "protocol.modcrop"),
    ({"protocol": {"lpips": {"net": "vgg"}}}, "protocol.lpips"),
    ({"metrics": {"ssim": {"version": "2"}}}, "metrics.ssim.version"),
])
def test_protocol_mismatch_cannot_compare(blessed, images, tmp_path: Path, patch: dict, field: str) -> None:
    run, baseline = blessed
    res = check(rerun(tmp_path, images, **patch), baseline)
    assert res.status == CANNOT_COMPARE
    assert [m.split(":")[0] for m in res.mismatches] == [field]
    assert {r.status for r in res.rows} == {"protocol"}
    suite = ET.fromstring(res.to_junit_xml())
    assert suite[0].get("classname") == "srbench.protocol" and suite[0].find("error") is not None
    assert "Protocol mismatch" in res.to_markdown()


def test_protocol_mismatch_wins_over_regression(blessed, images, tmp_path: Path) -> None:
    run, baseline = blessed
    res = check(rerun(tmp_path, images, models={"bicubic": "blurred", "nearest": "nearest"},
                      protocol={"colour": "rgb"}), baseline)
    assert res.status == CANNOT_COMPARE


def test_changed_dataset_pixels_cannot_compare(blessed, tmp_path: Path) -> None:
    run, baseline = blessed
    doc = json.loads(baseline.read_text())
    name = next(iter(doc["datasets"]["set5"]["hr_pixel_sha256"]))
    doc["datasets"]["set5"]["hr_pixel_sha256"][name] = "0" * 64
    other = tmp_path / "b.json"
    other.write_text(json.dumps(doc))
    res = check(run, other)
    assert res.status == CANNOT_COMPARE and res.mismatches == [f"datasets.set5: HR pixels differ for {name}"]


def test_missing_model_and_new_model(blessed, images, tmp_path: Path) -> None:
    run, baseline = blessed
    res = check(rerun(tmp_path, images, models={"bicubic": "bicubic", "extra": "nearest"}), baseline)
    assert res.status == CANNOT_COMPARE
    statuses = {(r.model, r.status) for r in res.rows}
    assert ("nearest", "missing") in statuses and ("extra", "new") in statuses and ("bicubic", "ok") in statuses
    # a regression among the comparable rows is reported as such (1), even with something missing
    res = check(rerun(tmp_path / "2", images, models={"bicubic": "blurred"}), baseline)
    assert res.status == REGRESSION


def test_fewer_images_cannot_compare(blessed, images, tmp_path: Path) -> None:
    run, baseline = blessed
    fewer = {d: dict(list(v.items())[:-1]) for d, v in images.items()}
    res = check(make_image_run(tmp_path / "r", fewer, meta={"datasets": {"set5": {"hr_pixel_sha256": {}}}}), baseline)
    assert res.status == CANNOT_COMPARE and {r.status for r in res.rows} == {"n_images"}


def _one(tmp_path: Path, name: str, psnr: float, lpips: float) -> Path:
    return write_run(tmp_path / name, [("m", "set5", 4, "im", "psnr", psnr), ("m", "set5", 4, "im", "lpips", lpips)])


def test_tolerances_directions_and_overrides(tmp_path: Path) -> None:
    base = save_baseline(_one(tmp_path, "base", 30.0, 0.200), tmp_path / "base.json")
    assert load_baseline(base)["tolerances"] == {"psnr": 0.05, "lpips": 0.005}
    # within tolerance, both directions
    assert check(_one(tmp_path, "a", 29.96, 0.204), base).status == PASS
    # PSNR down by 0.06 dB > 0.05: regression; up by 0.06: improved (pass)
    assert check(_one(tmp_path, "b", 29.94, 0.2), base).status == REGRESSION
    assert by_key(check(_one(tmp_path, "c", 30.06, 0.2), base))[("m", "psnr")].status == "improved"
    # LPIPS is lower-is-better: +0.006 regresses, -0.006 improves
    assert check(_one(tmp_path, "d", 30.0, 0.206), base).status == REGRESSION
    assert check(_one(tmp_path, "e", 30.0, 0.194), base).status == PASS
    # overrides: argument > baseline file
    assert check(_one(tmp_path, "f", 29.94, 0.2), base, tolerances={"PSNR": 0.1}).status == PASS
    assert by_key(check(_one(tmp_path, "g", 29.94, 0.2), base,
                        tolerances={"psnr": 0.1}))[("m", "psnr")].tolerance == 0.1
    with pytest.raises(ValueError, match="finite and >= 0"):
        check(base.parent / "a", base, tolerances={"psnr": -1})
    assert DEFAULT_TOLERANCES == {"psnr": 0.05, "ssim": 0.001, "lpips": 0.005, "niqe": 0.01}  # the metric table


def test_infinite_and_nan_values(tmp_path: Path) -> None:
    base = save_baseline(_one(tmp_path, "base", math.inf, 0.0), tmp_path / "base.json")
    assert json.loads(base.read_text())["values"][0]["value"] == "inf"  # valid JSON, no Infinity token
    assert check(_one(tmp_path, "same", math.inf, 0.0), base).status == PASS
    assert check(_one(tmp_path, "finite", 60.0, 0.0), base).status == REGRESSION
    assert check(_one(tmp_path, "nan", math.nan, 0.0), base).status == REGRESSION


def test_baseline_errors_and_default_path(blessed, tmp_path: Path) -> None:
    run, _ = blessed
    with pytest.raises(BaselineError, match="not found"):
        check(run, tmp_path / "none.json")
    (tmp_path / "x.json").write_text('{"kind": "other"}')
    with pytest.raises(BaselineError, match="not an srbench baseline"):
        load_baseline(tmp_path / "x.json")
    partial = write_run(tmp_path / "p", [("m", "set5", 4, "im", "psnr", 1.0)], meta={"status": "interrupted"})
    with pytest.raises(BaselineError, match="only a complete run"):
        save_baseline(partial, tmp_path / "p.json")
    assert default_baseline_path(run) == Path("baselines") / "bicubic-nearest_set5_x4.json"


@pytest.mark.shared
def test_committed_baseline_passes_on_a_fresh_run(shared_datasets: Path, tmp_path: Path) -> None:
    """The blessed bicubic baseline in baselines/ is what srbench computes today (the CI check itself)."""
    run = bicubic_set5_set14_x4(shared_datasets)
    res = check(run, REPO / "baselines" / "bicubic_set5-set14_x4.json")
    assert res.status == PASS, res.to_text()
    assert len(res.rows) == 4 and all(abs(r.delta) < 1e-9 for r in res.rows)


def test_lpips_unavailable_in_the_run_is_missing_not_a_protocol_change(tmp_path: Path) -> None:
    base = save_baseline(_one(tmp_path, "base", 30.0, 0.2), tmp_path / "base.json")
    run = write_run(tmp_path / "nolpips", [("m", "set5", 4, "im", "psnr", 30.0)],
                    meta={"protocol": {"lpips": {"available": False, "net": None, "version": None,
                                                 "reason": "LPIPS unavailable: no weights"}}})
    res = check(run, base)
    assert res.status == CANNOT_COMPARE and res.mismatches == []
    assert {(r.metric, r.status) for r in res.rows} == {("psnr", "ok"), ("lpips", "missing")}


def test_check_refuses_a_run_whose_results_were_edited_or_that_did_not_finish(tmp_path: Path) -> None:
    """Issue 23: check, table and report trusted summary.csv, so results.csv lowered by 5 dB passed."""
    import json

    from srbench.config import RunConfig
    from srbench.evaluate import evaluate
    from srbench.rundir import RunDirError

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    run = tmp_path / "run"
    assert evaluate(RunConfig(models=("bicubic",), datasets=(f"folder:{folder}",), metrics=("psnr",),
                              throughput=False), run, progress=False).ok
    base = save_baseline(run, tmp_path / "base.json")
    assert check(run, base).status == PASS
    lines = (run / "results.csv").read_text().splitlines()
    head, *rows = lines
    lowered = [",".join([*r.split(",")[:-1], repr(float(r.split(",")[-1]) - 5.0)]) for r in rows]
    (run / "results.csv").write_text("\n".join([head, *lowered]) + "\n")
    with pytest.raises(RunDirError, match="summary.csv: disagrees with results.csv"):
        check(run, base)
    r = CliRunner().invoke(cli, ["check", str(run), "--baseline", str(base)])
    assert r.exit_code == 2 and "disagrees with results.csv" in r.output
    (run / "results.csv").write_text("\n".join(lines) + "\n")  # restored: fine again
    assert check(run, base).status == PASS
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
    res = check(run, base)
    assert res.status == 2 and any("unfinished run" in m for m in res.mismatches)
