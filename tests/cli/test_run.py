"""`srbench run` through the CLI (click's CliRunner): the run directory, resume, config files, usage errors.

The ``folder`` fixture (one small image) is in tests/cli/conftest.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from srbench.cli import cli
from tests.terminal import run_in_terminal, screen_lines


def test_run_writes_a_run_directory_and_prints_a_summary(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "-d", f"folder:{folder}", "-s", "2,4", "--no-throughput",
                                 "--metrics", "psnr,ssim", "--no-progress", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "psnr" in r.output and "bicubic" in r.output
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["scales"] == [2, 4]
    assert run["command"].startswith("srbench")


def test_unknown_model_is_a_usage_error_with_suggestion(folder: Path, tmp_path: Path) -> None:
    """Issue 14.10: an unknown model exited 1 (a failed run) after writing a run directory; now exit 2."""
    r = CliRunner().invoke(cli, ["run", "-m", "bicubc", "-d", f"folder:{folder}", "--no-throughput",
                                 "--metrics", "psnr", "--no-progress", "-o", str(tmp_path / "r")])
    assert r.exit_code == 2
    assert "Did you mean 'bicubic'" in r.output and not (tmp_path / "r").exists()


def test_resume_reuses_the_config(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "-m", "bicubic", "-d", f"folder:{folder}", "--no-throughput", "--metrics", "psnr", "--no-progress"]
    assert CliRunner().invoke(cli, [*args, "-o", str(out)]).exit_code == 0
    r = CliRunner().invoke(cli, ["run", "--resume", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert len((out / "results.csv").read_text().splitlines()) == 2
    r = CliRunner().invoke(cli, [*args, "-o", str(out)])
    assert r.exit_code == 2 and "--resume" in r.output


def test_config_file_with_unknown_key_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('models = ["bicubic"]\nscale = 4\n')
    r = CliRunner().invoke(cli, ["run", "--config", str(cfg)])
    assert r.exit_code == 2 and "unknown config keys: ['scale']" in r.output


HEAVY = ("torch", "tensorflow", "onnxruntime", "pandas", "matplotlib")  # seconds to import: never for --help


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["bench", "--help"]])
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    """Issue 22.5: `srbench --help` / `srbench run --help` import srbench.cli and click only."""
    code = ("import sys\nfrom srbench.cli import cli\ntry:\n    cli.main(args=sys.argv[1:], prog_name='srbench')\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Usage:" in p.stdout and p.stdout.strip().splitlines()[-1] == "[]"


def _run(folder: Path, tmp_path: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["run", "-m", "bicubic", "-d", f"folder:{folder}", "--no-throughput",
                                    "--no-progress", "-o", str(tmp_path / "r"), *extra])


@pytest.mark.parametrize(("extra", "words"), [
    # 14.4: a mistyped --weights name ran the demo weights silently
    (["-m", "srresnet", "--weights", "srresent=mine.safetensors"], ["--weights", "Did you mean 'srresnet'", "bicubic"]),
    (["--weights", "srgan=x.safetensors"], ["--weights", "not among the models of this run (bicubic)"]),
    # 14.10: --metrics '' meant "all"
    (["--metrics", ""], ["--metrics", "names nothing"]),
    (["-m", " , "], ["--models", "names nothing"]),
    (["--device", "banana"], ["--device", "'banana' is not a device"]),
    (["--device", "cuda:7"], ["--device", "cuda:7"]),
    (["--metrics", "lpips", "--lpips-weights", "/no/such/alex.pth"], ["--lpips-weights", "/no/such/alex.pth"]),
    (["--compare", "cat,dog"], ["--compare", "no image 'dog'", "cat"]),
    (["--crop-box", "0,0,-4,8"], ["--crop-box", "W, H > 0"]),
])
def test_bad_run_options_are_usage_errors(folder: Path, tmp_path: Path, extra: list[str], words: list[str]) -> None:
    if extra[:2] == ["--device", "cuda:7"]:
        import torch

        if torch.cuda.device_count() > 7:
            pytest.skip("this machine has 8 CUDA devices")
    r = _run(folder, tmp_path, *extra)
    assert r.exit_code == 2, r.output
    for w in words:
        assert w in r.output, (w, r.output)
    assert not (tmp_path / "r").exists()  # nothing started


def test_crop_box_outside_an_image_warns_per_image(folder: Path, tmp_path: Path) -> None:
    r = _run(folder, tmp_path, "--metrics", "psnr", "--crop-box", "40,0,40,16")
    assert r.exit_code == 0, r.output
    assert "--crop-box 40,0,40,16 lies outside imgs/cat at x4 (72x64 HR pixels)" in r.output


@pytest.mark.parametrize(("toml", "words"), [
    ('metrics = "psnr"\n', ["key 'metrics' must be an array of strings", "'psnr' (a string)"]),
    ("scales = [4.5]\n", ["key 'scales' must be an array of integers"]),
    ("throughput = 1\n", ["key 'throughput' must be true or false"]),
    ('crop_box = [1, 2]\n', ["key 'crop_box' must be an array of 4 integers"]),
    ('[weights]\nsrresnet = 3\n', ["key 'weights' must be a table of names to strings"]),
    ("metrics = [\n", ["invalid TOML"]),
])
def test_toml_values_of_the_wrong_type_name_the_key_and_the_file(tmp_path: Path, toml: str, words: list[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    r = CliRunner().invoke(cli, ["run", "--config", str(cfg), "-o", str(tmp_path / "r")])
    assert r.exit_code == 2, r.output
    assert f"config file {cfg}" in r.output
    for w in words:
        assert w in r.output, (w, r.output)


def test_a_well_typed_toml_config_runs(folder: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'models = ["bicubic"]\ndatasets = ["folder:{folder}"]\nscales = [2]\nmetrics = ["psnr"]\n'
                   "throughput = false\n")
    r = CliRunner().invoke(cli, ["run", "--config", str(cfg), "--no-progress", "-o", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "r" / "run.json").read_text())["config"]["metrics"] == ["psnr"]


def test_timed_pass_defaults_and_options() -> None:
    """Issue 22.1: `srbench run` times 128x128 and the first 5 images per dataset, 2 s per cell by default."""
    from srbench.config import RESUME_SAFE, TIMING_IMAGES, RunConfig

    assert (RunConfig().throughput_sizes, RunConfig().time_budget, TIMING_IMAGES) == ((128,), 2.0, 5)
    assert {"throughput_sizes", "time_budget"} <= RESUME_SAFE  # they change no result
    with pytest.raises(ValueError, match="time_budget"):
        RunConfig(time_budget=-1.0)
    with pytest.raises(ValueError, match="throughput_sizes"):
        RunConfig(throughput_sizes=(0,))
    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "--throughput-sizes", "a", "--no-progress"])
    assert r.exit_code == 2 and "--throughput-sizes" in r.output
    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "--time-budget", "-1", "--no-progress"])
    assert r.exit_code == 2 and "--time-budget" in r.output


# ------------------------------------------------------------------------------------------------ the console


def test_without_a_terminal_each_model_gets_a_plain_line_as_its_dataset_finishes(folder: Path, tmp_path: Path) -> None:
    """Issue 21.1: CI, Slurm and `| tee` saw nothing until the end. CliRunner's stderr is not a terminal."""
    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "-d", f"folder:{folder}", "-s", "2,4", "--no-throughput",
                                 "--metrics", "psnr,ssim", "-o", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    pattern = r"imgs x{} · bicubic · psnr \d+\.\d{{4}} · ssim 0\.\d{{4}} · 1 image · \d+\.\d s"
    x2 = next(i for i, line in enumerate(lines) if re.fullmatch(pattern.format(2), line))
    x4 = next(i for i, line in enumerate(lines) if re.fullmatch(pattern.format(4), line))
    final = next(i for i, line in enumerate(lines) if line.startswith("metric"))  # the end-of-run table
    assert x2 < x4 < final
    assert "%|" not in r.output  # no bar drawn


def test_the_quality_summary_is_printed_before_the_timed_pass(folder: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import srbench.evaluate

    def fake_bench(jobs: Any, options: Any, *, progress: Any = None, **kw: Any) -> Any:
        progress(0, len(jobs), "bicubic x4")
        progress(len(jobs), len(jobs), "")
        raise RuntimeError("no timing in this test")

    monkeypatch.setattr(srbench.evaluate, "run_bench", fake_bench)
    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "-d", f"folder:{folder}", "--metrics", "psnr",
                                 "--no-progress", "-o", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    out = r.output
    summary = out.index("imgs x4 · bicubic · psnr ")
    assert summary < out.index("throughput: timing 1 model(s)") < out.index("throughput · bicubic x4 · timed (1/1)")
    assert "throughput pass failed: no timing in this test" in out


def test_quiet_prints_only_the_results_path(folder: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "-d", f"folder:{folder}", "--no-throughput", "--metrics",
                                 "psnr", "--quiet", "-o", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    assert r.output == f"results: {tmp_path / 'r'}\n"  # no summary, no progress


def test_quiet_still_prints_errors(folder: Path, tmp_path: Path) -> None:
    import shutil

    imgs = tmp_path / "with-a-broken-one"
    shutil.copytree(folder, imgs)
    (imgs / "broken.png").write_bytes(b"not a png")  # a per-image error: the run goes on, exit 1
    r = CliRunner().invoke(cli, ["run", "-m", "bicubic", "-d", f"folder:{imgs}", "--no-throughput", "--metrics",
                                 "psnr", "-q", "-o", str(tmp_path / "r")])
    assert r.exit_code == 1, r.output
    assert "broken.png" in r.output and r.output.endswith(f"results: {tmp_path / 'r'}\n")
    assert "psnr" not in r.output.replace("--metrics", "")


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")
def test_on_a_terminal_the_bar_names_the_model_and_the_summary_comes_early(folder: Path, tmp_path: Path) -> None:
    """Issue 21.1 acceptance: a terminal shows one kept bar per (dataset, scale) naming the running model and
    its position, and the dataset's summary table as soon as the dataset is done."""
    code, raw = run_in_terminal(["run", "-m", "bicubic,srresnet", "-d", f"folder:{folder}", "-s", "4", "--metrics",
                                 "psnr,ssim", "--no-throughput", "-o", str(tmp_path / "r")])
    lines = screen_lines(raw)
    assert code == 0, "\n".join(lines)
    assert "imgs x4 · srresnet · 2/2 models" in raw  # the live description while srresnet runs
    bar = next(i for i, line in enumerate(lines) if line.startswith("imgs x4 · bicubic, srresnet: 100%"))
    assert "1/1" in lines[bar]  # kept as one finished line
    title = lines.index("imgs x4 · 1 image")
    assert lines[title + 1].split() == ["model", "psnr", "ssim", "time"]
    assert lines[title + 2].split()[0] == "bicubic" and lines[title + 3].split()[0] == "srresnet"
    assert bar < title < next(i for i, line in enumerate(lines) if line.startswith("metric"))
