"""The run directory (srbench.rundir): strings stay strings, inf survives, summaries are recomputed when absent,
torn tails are repaired, formula cells neutralised, the lock is exclusive; property-based round trips."""

from __future__ import annotations

import csv
import errno
import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srbench import rundir
from srbench.interfaces import ResultRow
from srbench.rundir import RunDirError, aggregate, load_run_dir
from tests.report.fakerun import write_run

ROWS = [
    ("NA", "set5", 4, "baby", "psnr", 30.0),
    ("NA", "set5", 4, "bird", "psnr", 32.0),
    ("1e3", "set5", 4, "baby", "psnr", math.inf),
    ("1e3", "set5", 4, "bird", "psnr", 31.0),
]


def test_text_columns_stay_strings_and_inf_parses(tmp_path: Path) -> None:
    run = load_run_dir(write_run(tmp_path / "r", ROWS))
    assert list(run.results["model"].unique()) == ["NA", "1e3"]
    assert run.results["value"].dtype == "float64"
    assert math.isinf(run.results["value"].iloc[2])
    s = run.summary.set_index(["model", "metric"])
    assert s.loc[("NA", "psnr"), "value"] == pytest.approx(31.0)
    assert math.isinf(s.loc[("1e3", "psnr"), "value"])
    assert run.models() == ["NA", "1e3"]
    assert run.higher_is_better("psnr") is True and run.higher_is_better("unknown") is None


def test_summary_recomputed_from_results_when_absent(tmp_path: Path) -> None:
    run = load_run_dir(write_run(tmp_path / "r", ROWS, write_summary=False))
    got = run.summary.set_index("model")
    assert got.loc["NA", "value"] == pytest.approx(31.0) and got.loc["NA", "n_images"] == 2
    assert list(aggregate(run.results).columns) == ["model", "dataset", "scale", "metric", "value", "n_images",
                                                   "std", "reference", "delta", "ci_low", "ci_high"]


def test_metric_direction_comes_from_run_json(tmp_path: Path) -> None:
    meta = {"metrics": {"psnr": {"higher_is_better": False}}}
    run = load_run_dir(write_run(tmp_path / "r", ROWS, meta=meta))
    assert run.higher_is_better("psnr") is False


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="no such folder"):
        load_run_dir(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError, match=r"run\.json: missing"):
        load_run_dir(tmp_path / "empty")
    root = write_run(tmp_path / "r", ROWS)
    meta = json.loads((root / "run.json").read_text())
    meta["schema_version"] = 99
    (root / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match="schema_version 99"):
        load_run_dir(root)
    meta["schema_version"] = 1
    (root / "run.json").write_text(json.dumps(meta))
    (root / "results.csv").write_text("model,dataset,value\nx,y,1\n")
    with pytest.raises(RunDirError, match=r"results\.csv: missing column\(s\) scale, image, metric"):
        load_run_dir(root)


# ------------------------------------------------------------------- the one writer / reader (srbench.rundir)



def test_run_json_is_read_into_a_typed_record(tmp_path: Path) -> None:
    root = write_run(tmp_path / "r", ROWS, meta={"errors": [{"model": "NA", "dataset": "set5", "scale": 4,
                                                            "image": "baby", "error": "boom"}],
                                                 "comparisons": [{"dataset": "set5", "scale": 4, "image": "baby",
                                                                  "hr": "images/x.png", "models": {"NA": "y.png"}}],
                                                 "custom_key": [1, 2]})
    rec = rundir.load_record(root)
    assert rec.run_id == "20261126-001500-test" and rec.status == "complete"
    assert rec.errors[0].where == "NA / set5 / 4 / baby" and rec.errors[0].error == "boom"
    assert rec.comparisons[0].models == {"NA": "y.png"} and rec.comparisons[0].scale == 4
    assert rec.metric("psnr").higher_is_better is True and rec.metric("psnr").unit == "dB"
    assert rec.metric("nonesuch").higher_is_better is None
    assert rec.models["NA"].demo is False and rec.datasets["set5"].n_images == 2
    # what a reader does not know is kept when the record is written back
    again = rundir.RunRecord.from_json(rec.to_json())
    assert again == rec and again.extra == {"custom_key": [1, 2]}


def test_a_wrongly_typed_run_json_reads_as_absent_values(tmp_path: Path) -> None:
    root = write_run(tmp_path / "r", ROWS, meta={"models": {"NA": "not a dict"}, "comparisons": ["x", None],
                                                 "errors": ["plain text"], "seconds": "soon"})
    rec = rundir.load_record(root)
    assert rec.models["NA"] == rundir.ModelRecord() and rec.comparisons == ()
    assert rec.errors[0].error == "plain text" and rec.errors[0].where == "" and rec.seconds is None


def test_mean_of_inf_and_minus_inf_is_nan_not_a_crash() -> None:
    (s,) = rundir.summarise([ResultRow("m", "d", 4, "a", "x", math.inf), ResultRow("m", "d", 4, "b", "x", -math.inf)])
    assert math.isnan(s.value) and s.n_infinite == 2 and s.finite_mean is None


def test_one_aggregation_for_writer_and_reader(tmp_path: Path) -> None:
    rows = [ResultRow("m", "d", 4, f"i{k}", "psnr", 0.1 * k + 1e-9 * k * k) for k in range(1, 40)]
    written = rundir.summarise(rows)
    assert written[0].value == math.fsum(r.value for r in rows) / len(rows)
    root = write_run(tmp_path / "r", [(r.model, r.dataset, r.scale, r.image, r.metric, r.value) for r in rows],
                     write_summary=False)
    assert load_run_dir(root).summary["value"].item() == written[0].value  # bit for bit, not approx


def _write(path: Path, rows: list[ResultRow]) -> bytes:
    with rundir.ResultsWriter(path) as w:
        w.write(rows)
    return path.read_bytes()


def test_repair_results_cuts_only_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    rows = [ResultRow("m", "d", 4, "a", "psnr", 30.5), ResultRow("m", "d", 4, 'we"ird,\nid', "ssim", -0.25)]
    whole = _write(path, rows)
    assert rundir.repair_results(path) == 0 and path.read_bytes() == whole
    last = len(whole) - whole.index(b'm,d,4,"we')
    for cut in range(1, last + 1):  # inside the last record (which holds a quoted newline)
        path.write_bytes(whole[:-cut])
        removed = rundir.repair_results(path)
        assert path.read_bytes() == whole[: len(whole) - cut - removed]
        assert rundir.read_rows(path) == rows[:1]
    path.write_bytes(whole[:5])  # a torn header
    assert rundir.repair_results(path) == 5 and path.read_bytes() == b""


def test_formula_cells_are_escaped_but_numbers_are_not(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    _write(path, [ResultRow("=cmd|' /C calc'!A0", "+d", 2, "@x", "-m", -0.5), ResultRow("'q", "d", 2, "i", "m", 1.0)])
    cells = list(csv.reader(path.open(newline="")))
    assert cells[1] == ["'=cmd|' /C calc'!A0", "'+d", "2", "'@x", "'-m", "-0.5"]
    assert cells[2][0] == "''q"
    assert [r.model for r in rundir.read_rows(path)] == ["=cmd|' /C calc'!A0", "'q"]


def test_disk_full_while_appending_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.csv"
    w = rundir.ResultsWriter(path)

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunDirError, match=r"results\.csv: cannot write \(the disk is full\)"):
        w.write([ResultRow("m", "d", 4, "a", "psnr", 1.0)])
    w.close()


def test_lock_is_exclusive_released_and_ignores_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / rundir.LOCK_FILE).write_text("999999999\n")  # left by a dead process: not flocked
    with rundir.RunLock(tmp_path) as held:
        assert (tmp_path / rundir.LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(rundir.RunDirInUse, match=f"in use by PID {os.getpid()}"):
            rundir.RunLock(tmp_path).acquire()  # a second open file description: flock conflicts
        assert held.path.exists()
    assert not (tmp_path / rundir.LOCK_FILE).exists()
    rundir.RunLock(tmp_path).acquire().release()


# ----------------------------------------------------------------------------------- property-based

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_value = st.one_of(st.floats(allow_nan=False), st.just(math.inf), st.just(-math.inf))
_rows = st.lists(st.builds(ResultRow, _text, _text, st.integers(1, 16), _text, _text, _value), max_size=8)


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows)
def test_property_results_round_trip_through_both_readers(tmp_path: Path, rows: list[ResultRow]) -> None:
    path = tmp_path / "results.csv"
    path.unlink(missing_ok=True)
    _write(path, rows)
    assert rundir.read_rows(path) == rows
    (tmp_path / "run.json").write_text('{"schema_version": 1}')
    df = rundir.load_run_dir(tmp_path).results
    assert list(df["image"]) == [r.image for r in rows] and list(df["model"]) == [r.model for r in rows]
    assert list(df["value"]) == [r.value for r in rows]


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows.filter(bool), more=_rows, cut=st.integers(1, 200))
def test_property_a_torn_tail_is_repaired_then_appended_to(tmp_path: Path, rows: list[ResultRow],
                                                          more: list[ResultRow], cut: int) -> None:
    path = tmp_path / "results.csv"
    path.unlink(missing_ok=True)
    whole = _write(path, rows)
    path.write_bytes(whole[: max(0, len(whole) - cut)])
    rundir.repair_results(path)
    kept = rundir.read_rows(path)
    assert kept == rows[: len(kept)]  # a prefix of what was written, never a merged or altered row
    _write(path, more)
    assert rundir.read_rows(path) == kept + more


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.inf), st.just(math.nan)), min_size=1,
                       max_size=4), model=_text)
def test_property_baseline_round_trip(tmp_path: Path, values: list[float], model: str) -> None:
    from srbench.check import load_baseline, save_baseline

    rows = [(model, "set5", 4, f"im{i}", "psnr", v) for i, v in enumerate(values)]
    root = write_run(tmp_path / "r", rows)
    doc = load_baseline(save_baseline(root, tmp_path / "b.json"))
    (entry,) = doc["values"]
    want = load_run_dir(root).summary["value"].item()
    got = float(entry["value"])
    assert entry["model"] == model and (got == want or (math.isnan(got) and math.isnan(want)))
