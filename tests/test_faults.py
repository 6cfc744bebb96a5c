"""Faults and hostile input (issue 14): each test reproduces a failure found by a hostile try.

Every promise of README "Guarantees" names its test here (or in tests/test_rundir.py).
"""

from __future__ import annotations

import errno
import json
import math
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from srbench.cli import cli
from srbench.evaluate import RunConfig, evaluate
from srbench.rundir import load_results, read_rows

FAST = dict(throughput=False, metrics=("psnr", "ssim"))
REPO = Path(__file__).resolve().parents[1]


def _photo(h: int = 40, w: int = 36, seed: int = 0) -> np.ndarray:
    import skimage.data

    y, x = 60 + 17 * seed, 120 + 11 * seed
    return skimage.data.astronaut()[y : y + h, x : x + w].copy()


def _folder(root: Path, names: tuple[str, ...] = ("a.png", "b.png")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        Image.fromarray(_photo(seed=i)).save(root / n)
    return root


def _run(tmp_path: Path, folder: Path, name: str = "run", **kw: object):
    cfg = RunConfig(models=("bicubic",), datasets=(f"folder:{folder}",), **{**FAST, **kw})
    return evaluate(cfg, tmp_path / name, progress=False, log=lambda _m: None)


def _cli(*args: str) -> object:
    return CliRunner().invoke(cli, ["run", "--no-progress", *args])


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims ``width x height`` (a decompression bomb, without the 400 MB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    idat = zlib.compress(b"\0" * (width + 1) * 16, 9)  # a few rows of zeros: decoding would need all of them
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


# ------------------------------------------------------------------------- 1. decompression bombs


def test_decompression_bomb_is_a_per_image_error_and_the_rest_runs(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs")
    _png_header_only(d / "bomb.png", 20000, 20000)
    out = _run(tmp_path, d)
    assert [e["image"] for e in out.errors] == ["bomb"]
    assert "bomb.png" in out.errors[0]["error"] and "exceed the limit" in out.errors[0]["error"]
    assert {r.image for r in out.rows} == {"a", "b"}
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "complete-with-errors" and len(run["errors"]) == 1


def test_max_pixels_is_configurable_and_checked_before_decoding(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs")  # 36 x 40 = 1440 pixels each
    out = _run(tmp_path, d, max_pixels=1000)
    assert {e["image"] for e in out.errors} == {"a", "b"} and "1440" not in out.errors[0]["error"]
    assert "36x40" in out.errors[0]["error"]
    assert not _run(tmp_path, d, name="run2", max_pixels=1440).errors
    r = _cli("-m", "bicubic", "-d", f"folder:{d}", "--no-throughput", "--metrics", "psnr", "--max-pixels", "1000",
             "-o", str(tmp_path / "cli"))
    assert r.exit_code == 1 and "exceed the limit of 0.001 MP" in r.output
    assert json.loads((tmp_path / "cli" / "run.json").read_text())["config"]["max_pixels"] == 1000


def test_datasets_export_refuses_a_bomb_and_exports_the_rest(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs")
    _png_header_only(d / "bomb.png", 20000, 20000)
    r = CliRunner().invoke(cli, ["datasets", "export", f"folder:{d}", "-s", "2", "-o", str(tmp_path / "exp")])
    assert r.exit_code == 1 and "bomb.png" in r.output and "exported 2 images" in r.output
    assert sorted(p.name for p in (tmp_path / "exp" / "HR").iterdir()) == ["a.png", "b.png"]


# ---------------------------------------------------------------------- 2. unexpected exceptions


def test_an_unexpected_exception_is_a_failed_run_not_a_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srbench.evaluate as ev

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom in the loop")

    monkeypatch.setattr(ev, "_verify_dataset", broken)
    d = _folder(tmp_path / "imgs")
    out = _run(tmp_path, d)
    assert out.status == "failed" and not out.ok
    assert "RuntimeError: boom in the loop" in out.errors[-1]["error"]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "failed" and "boom in the loop" in run["errors"][-1]["error"]
    assert "Traceback" in run["errors"][-1]["traceback"]
    assert len(read_rows(tmp_path / "run" / "results.csv")) == 4  # what was computed is kept
    r = _cli("-m", "bicubic", "-d", f"folder:{d}", "--no-throughput", "--metrics", "psnr", "-o", str(tmp_path / "c"))
    assert r.exit_code == 1 and "boom in the loop" in r.output and "run failed" in r.output


# ----------------------------------------------------------------------------- 3. duplicate ids


def test_files_sharing_an_id_are_one_clear_error_not_merged_rows(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs", ("a.png", "a.PNG", "a.jpg", "b.png"))
    out = _run(tmp_path, d)
    assert [e["image"] for e in out.errors] == ["a"]
    for name in ("a.png", "a.PNG", "a.jpg"):
        assert name in out.errors[0]["error"]
    assert "share the image id" in out.errors[0]["error"]
    assert {r.image for r in out.rows} == {"b"} and len(out.rows) == 2
    assert {s.n_images for s in out.summary} == {1}


def test_datasets_export_of_a_folder_with_duplicate_ids_counts_what_it_writes(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs", ("a.png", "a.PNG", "a.jpg", "b.png"))
    r = CliRunner().invoke(cli, ["datasets", "export", f"folder:{d}", "-s", "2", "-o", str(tmp_path / "exp")])
    assert r.exit_code == 1 and "exported 1 images" in r.output and "share the image id 'a'" in r.output
    assert [p.name for p in (tmp_path / "exp" / "HR").iterdir()] == ["b.png"]


def test_two_hr_folders_are_two_datasets_with_stable_names(tmp_path: Path) -> None:
    _folder(tmp_path / "data" / "Set5" / "HR")
    _folder(tmp_path / "data" / "Set14" / "HR", ("c.png",))
    _folder(tmp_path / "x" / "imgs")
    _folder(tmp_path / "y" / "imgs", ("c.png",))
    specs = (f"folder:{tmp_path}/data/Set5/HR", f"folder:{tmp_path}/data/Set14/HR", f"folder:{tmp_path}/x/imgs",
             f"folder:{tmp_path}/y/imgs")
    out = evaluate(RunConfig(models=("bicubic",), datasets=specs, **FAST), tmp_path / "run", progress=False,
                   log=lambda _m: None)
    summary = load_results(tmp_path / "run", summary=True)
    n = {(r.dataset, r.metric): r.n_images for r in summary.itertuples()}
    assert n == {("Set5", "psnr"): 2, ("Set5", "ssim"): 2, ("Set14", "psnr"): 1, ("Set14", "ssim"): 1,
                 ("imgs", "psnr"): 2, ("imgs", "ssim"): 2, ("imgs-2", "psnr"): 1, ("imgs-2", "ssim"): 1}
    assert any("labelled 'imgs-2'" in w for w in out.warnings)
    assert set(json.loads((tmp_path / "run" / "run.json").read_text())["datasets"]) == {"Set5", "Set14", "imgs",
                                                                                        "imgs-2"}


def test_repeated_scales_and_datasets_run_once(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs")
    r = _cli("-m", "bicubic,bicubic", "-d", f"folder:{d},folder:{d}", "-s", "4,4", "-s", "4", "--no-throughput",
             "--metrics", "psnr,psnr", "-o", str(tmp_path / "run"))
    assert r.exit_code == 0, r.output
    rows = read_rows(tmp_path / "run" / "results.csv")
    assert len(rows) == 2 and len({(x.model, x.dataset, x.scale, x.image, x.metric) for x in rows}) == 2
    cfg = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert cfg["scales"] == [4] and cfg["models"] == ["bicubic"] and len(cfg["datasets"]) == 1


# ------------------------------------------------------------------------- 5. torn results.csv


def _reference_rows(tmp_path: Path, d: Path) -> list:
    ref = _run(tmp_path, d, name="reference")
    assert ref.ok
    return read_rows(tmp_path / "reference" / "results.csv")


def test_resume_truncates_a_torn_last_line(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs", ("a.png", "b.png", "c.png"))
    want = _reference_rows(tmp_path, d)
    assert _run(tmp_path, d).ok
    results = tmp_path / "run" / "results.csv"
    data = results.read_bytes()
    lines = data.split(b"\r\n")
    results.write_bytes(b"\r\n".join(lines[:4]) + b"\r\n" + lines[4][:9])  # header + 3 rows + "bicubic,i"
    resumed = evaluate(RunConfig.from_json(json.loads((tmp_path / "run" / "run.json").read_text())["config"]),
                       tmp_path / "run", resume=True, progress=False, log=lambda _m: None)
    assert resumed.ok
    assert results.read_bytes() == (tmp_path / "reference" / "results.csv").read_bytes()
    assert read_rows(results) == want and len(load_results(tmp_path / "run")) == 6


def test_an_image_with_a_metric_missing_is_not_done(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs", ("a.png", "b.png"))
    want = _reference_rows(tmp_path, d)
    assert _run(tmp_path, d).ok
    results = tmp_path / "run" / "results.csv"
    lines = results.read_bytes().split(b"\r\n")
    results.write_bytes(b"\r\n".join(lines[:4]) + b"\r\n")  # b's psnr kept, its ssim lost (a whole line)
    r = _cli("--resume", str(tmp_path / "run"))
    assert r.exit_code == 0, r.output
    got = read_rows(results)
    assert sorted(got, key=str) == sorted(want, key=str) and len(got) == 4


# ------------------------------------------------------------------------------------------- 6. lock

_HOLD = """
import sys, time
from srbench.rundir import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_run_directory_in_use_is_refused_with_the_pid(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs")
    (tmp_path / "run").mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path / "run")], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = _cli("-m", "bicubic", "-d", f"folder:{d}", "--no-throughput", "--metrics", "psnr",
                 "-o", str(tmp_path / "run"))
        assert r.exit_code == 2 and f"in use by PID {holder.pid}" in r.output and str(tmp_path / "run") in r.output
        assert not (tmp_path / "run" / "results.csv").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    # the holder died without releasing: its lock file remains but no longer blocks
    assert (tmp_path / "run" / ".srbench.lock").exists()
    r = _cli("-m", "bicubic", "-d", f"folder:{d}", "--no-throughput", "--metrics", "psnr", "-o", str(tmp_path / "run"))
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "run" / ".srbench.lock").exists()  # released on exit


# -------------------------------------------------------------- 7. unwritable, disk full, bad run.json


def test_read_only_output_dir_is_one_sentence_naming_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _folder(tmp_path / "imgs")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root ignores permissions: make the folder refuse as it would for a user
        real_mkdir = Path.mkdir

        def mkdir(self: Path, *a: object, **k: object) -> None:
            if ro in self.parents:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            real_mkdir(self, *a, **k)

        monkeypatch.setattr(Path, "mkdir", mkdir)
    try:
        r = _cli("-m", "bicubic", "-d", f"folder:{d}", "--no-throughput", "-o", str(ro / "run"))
    finally:
        ro.chmod(0o755)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"{ro / 'run'}: cannot create the run directory (Permission denied)" in r.output


def test_disk_full_fails_the_run_naming_the_file_and_resume_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _folder(tmp_path / "imgs", ("a.png", "b.png", "c.png"))
    want = _reference_rows(tmp_path, d)
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # the third image's rows: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    r = _cli("-m", "bicubic", "-d", f"folder:{d}", "--no-throughput", "--metrics", "psnr,ssim",
             "-o", str(tmp_path / "run"))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{tmp_path / 'run' / 'results.csv'}: cannot write (the disk is full)" in r.output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"
    r = _cli("--resume", str(tmp_path / "run"))
    assert r.exit_code == 0, r.output
    assert sorted(read_rows(tmp_path / "run" / "results.csv"), key=str) == sorted(want, key=str)


def test_resume_without_run_json_or_with_a_corrupt_one(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = _cli("--resume", str(tmp_path / "empty"))
    assert r.exit_code == 2 and f"{tmp_path / 'empty' / 'run.json'}: missing" in r.output
    assert "Traceback" not in r.output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.json").write_text('{"config": {"models": ["bic')
    r = _cli("--resume", str(tmp_path / "bad"))
    assert r.exit_code == 2 and f"{tmp_path / 'bad' / 'run.json'}: unreadable JSON" in r.output


# ----------------------------------------------------------------------------------- 10. smaller


def test_exif_orientation_is_applied_as_viewers_do(tmp_path: Path) -> None:
    from PIL import ImageOps

    from srbench.data.io import read_image

    photo = _photo(20, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(photo).save(tmp_path / "cam.png", exif=exif)
    with Image.open(tmp_path / "cam.png") as im:
        want = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    got = read_image(tmp_path / "cam.png")
    assert got.shape == (30, 20, 3) and np.array_equal(got, want)
    assert np.array_equal(got, np.rot90(photo, k=-1))


def test_psnr_inf_mean_is_flagged_with_the_finite_mean(tmp_path: Path) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(np.full((40, 40, 3), 77, np.uint8)).save(d / "flat.png")
    Image.fromarray(_photo(40, 40)).save(d / "photo.png")
    out = _run(tmp_path, d)
    assert out.ok
    per_image = {r.image: r.value for r in out.rows if r.metric == "psnr"}
    assert math.isinf(per_image["flat"]) and math.isfinite(per_image["photo"])
    mean = next(s for s in out.summary if s.metric == "psnr")
    assert math.isinf(mean.value) and mean.n_infinite == 1 and mean.finite_mean == per_image["photo"]
    note = [w for w in out.warnings if "identical to HR" in w]
    assert len(note) == 1 and "1 of 2" in note[0] and f"{per_image['photo']:.4f}" in note[0]
    assert note[0] in json.loads((tmp_path / "run" / "run.json").read_text())["warnings"]
    assert "identical to HR" in (tmp_path / "run" / "report.html").read_text()


def test_formula_like_ids_are_neutralised_in_the_csv_and_read_back_verbatim(tmp_path: Path) -> None:
    d = _folder(tmp_path / "@data", ("=HYPERLINK(1).png", "-2.png", "+x.png"))
    out = _run(tmp_path, d)
    assert out.ok
    text = (tmp_path / "run" / "results.csv").read_text()
    for line in text.splitlines()[1:]:
        cells = line.split(",")
        assert cells[1] == "'@data" and cells[3][0] == "'", line
        assert cells[3][1] in "=-+"
    summary = (tmp_path / "run" / "summary.csv").read_text()
    assert ",'@data," in summary
    assert set(load_results(tmp_path / "run")["image"]) == {"=HYPERLINK(1)", "-2", "+x"}
    assert set(load_results(tmp_path / "run", summary=True)["dataset"]) == {"@data"}


def test_resume_refuses_flags_that_change_the_run(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs")
    run = str(tmp_path / "run")
    assert _cli("-m", "bicubic", "-d", f"folder:{d}", "--no-throughput", "--metrics", "psnr", "-o", run).exit_code == 0
    r = _cli("--resume", run, "-m", "srresnet")
    assert r.exit_code == 2 and "models: run has ('bicubic',), flags say ('srresnet',)" in r.output
    r = _cli("--resume", run, "-s", "2", "--metrics", "ssim")
    assert r.exit_code == 2 and "scales" in r.output and "metrics" in r.output
    r = _cli("--resume", run, "--out", str(tmp_path / "other"))
    assert r.exit_code == 2 and "--out cannot be combined with --resume" in r.output
    r = _cli("--resume", run, "-m", "bicubic", "--metrics", "psnr", "--no-throughput")  # same as recorded: fine
    assert r.exit_code == 0, r.output


def test_python_resume_with_a_config_that_changes_results_is_refused_and_loses_nothing(tmp_path: Path) -> None:
    """The resume rule lives in the library (srbench.config.resume_conflicts), not only in the CLI: a Python
    caller resuming with other models used to get its earlier rows deleted and a "complete" run."""
    from srbench.config import ConfigConflict

    d = _folder(tmp_path / "imgs")
    first = _run(tmp_path, d, metrics=("psnr",))
    assert first.ok
    results = (tmp_path / "run" / "results.csv").read_bytes()
    record = (tmp_path / "run" / "run.json").read_bytes()
    changed = RunConfig(models=("srresnet",), datasets=(f"folder:{d}",), **{**FAST, "metrics": ("psnr",)})
    with pytest.raises(ConfigConflict, match=r"models: run has \('bicubic',\), now \('srresnet',\)"):
        evaluate(changed, tmp_path / "run", resume=True, progress=False, log=lambda _m: None)
    assert (tmp_path / "run" / "results.csv").read_bytes() == results  # nothing deleted
    assert (tmp_path / "run" / "run.json").read_bytes() == record
    same = RunConfig(models=("bicubic",), datasets=(f"folder:{d}",), **{**FAST, "metrics": ("psnr",),
                                                                          "throughput": False})
    assert evaluate(same, tmp_path / "run", resume=True, progress=False, log=lambda _m: None).ok  # safe flag


@pytest.mark.parametrize("umask", [0o002, 0o077])
def test_output_files_get_the_umask_permissions(tmp_path: Path, umask: int) -> None:
    d = _folder(tmp_path / "imgs")
    old = os.umask(umask)
    try:
        from srbench import files

        files._file_mode.cache_clear()
        assert _run(tmp_path, d).ok
    finally:
        os.umask(old)
        files._file_mode.cache_clear()
    written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"results.csv", "summary.csv", "run.json", "report.html"}
    for p in written:
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


def test_throughput_csv_text_cells_are_neutralised_and_read_back_verbatim(tmp_path: Path) -> None:
    from srbench.perf.bench import ThroughputRow
    from srbench.perf.table import write_throughput_csv
    from srbench.rundir.frames import _read_throughput

    row = ThroughputRow("=cmd|' /C calc'!A0", 4, 64, 64, 1, "fp32", "cpu", 2.0, 2.5, 500.0, 8.2, 1000, 1.5, 0.75,
                        400.0, 0.0019, note="-negative note", input="@set5")
    path = write_throughput_csv([row], tmp_path)
    text = path.read_text()
    assert "'=cmd" in text and "'-negative note" in text and "'@set5" in text
    back = _read_throughput(path)
    assert back["model"][0] == "=cmd|' /C calc'!A0" and back["note"][0] == "-negative note"
    assert back["input"][0] == "@set5" and back["ms_median"][0] == 2.0 and back["params"][0] == 1000


def test_resume_keeps_the_previous_errors_as_history_and_retries_their_images(tmp_path: Path) -> None:
    d = _folder(tmp_path / "imgs")
    (d / "broken.png").write_bytes(b"not a png")
    first = _run(tmp_path, d)
    assert first.status == "complete-with-errors" and len(first.errors) == 1
    (d / "broken.png").unlink()
    Image.fromarray(_photo(seed=9)).save(d / "broken.png")  # the user repairs the file, then resumes
    again = evaluate(RunConfig(models=("bicubic",), datasets=(f"folder:{d}",), **FAST), tmp_path / "run",
                     resume=True, progress=False, log=lambda _m: None)
    assert again.ok and {r.image for r in again.rows} == {"a", "b", "broken"}
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["errors"] == [] and record["status"] == "complete"
    (entry,) = record["resumes"]
    assert entry["previous_status"] == "complete-with-errors" and entry["previous_rows"] == len(first.rows)
    assert len(entry["previous_errors"]) == 1 and "broken" in json.dumps(entry["previous_errors"])


def test_sigterm_during_evaluate_is_a_keyboard_interrupt_and_the_handler_is_restored() -> None:
    import signal

    from srbench.distributed import sigterm_as_interrupt as _sigterm_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), _sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow
def test_sigterm_ends_a_run_like_ctrl_c_and_resume_completes(tmp_path: Path) -> None:
    """Issue 23: SIGTERM left run.json "running" with no summary or report. Now: "interrupted", summary.csv and
    report.html written, the rows kept, and --resume completes the run."""
    import signal
    import subprocess
    import sys
    import time

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(d / f"{i:02d}.png")
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, "-m", "srbench.cli", "run", "--no-progress", "-m", "bicubic,srresnet", "-d",
            f"folder:{d}", "--metrics", "psnr", "--no-throughput", "-o", str(run)]
    p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(1200):  # until the run has written rows (progress-defined, not a timed kill)
        results = run / "results.csv"
        if p.poll() is not None or (results.exists() and results.read_bytes().count(b"\n") >= 3):
            break
        time.sleep(0.05)
    assert p.poll() is None, "the run finished before it could be stopped"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err.decode()[-2000:]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert (run / "summary.csv").exists() and (run / "report.html").exists()
    r = subprocess.run([*args[:4], "--resume", str(run)], env=env, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
    assert len(load_results(run)) == 80
