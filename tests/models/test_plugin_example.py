"""The example plugin package (examples/srbench-example-plugin): installed into a temporary folder (the shared
environment is not touched), it appears in `srbench models list`, runs through `srbench run`, and passes the
contract kit in its own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "srbench-example-plugin"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import shutil

    target = tmp_path_factory.mktemp("plugin-site")
    build = tmp_path_factory.mktemp("plugin-build")
    source = shutil.copytree(EXAMPLE, build / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    # setuptools builds in the source tree: a copy keeps the repository clean
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                          "--no-compile", "--quiet", "--target", str(target), str(source)],
                         capture_output=True, text=True, timeout=300, cwd=build,
                         env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "TMPDIR": str(build)})
    assert res.returncode == 0, res.stderr
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)])}


def _run(args: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, **kw)


def test_the_plugin_appears_in_models_list(env: dict[str, str]) -> None:
    res = _run(["-m", "srbench.cli", "models", "list"], env)
    assert res.returncode == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("example-bilinear"))
    assert "plugin: srbench_example_plugin.adapter:build" in line
    assert "bicubic" in res.stdout  # the built-ins are still there
    assert "file:PATH" in res.stdout and "onnx:PATH" in res.stdout  # and the model-file kinds


def test_srbench_run_evaluates_the_plugin(env: dict[str, str], tmp_path: Path) -> None:
    import skimage.data

    from srbench.rundir import load_results

    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(skimage.data.astronaut()[100:148, 150:190].copy()).save(d / "a.png")
    res = _run(["-m", "srbench.cli", "run", "-m", "bicubic,example-bilinear", "-d", f"folder:{d}", "-s", "2,4",
                "--metrics", "psnr,ssim", "--no-throughput", "--no-progress", "-o", str(tmp_path / "run")], env)
    assert res.returncode == 0, res.stderr
    rows = load_results(tmp_path / "run")
    got = rows[rows["model"] == "example-bilinear"]
    assert sorted(set(got["scale"])) == [2, 4] and len(got) == 4
    psnr = rows[rows["metric"] == "psnr"].set_index(["model", "scale"])["value"]
    assert 20 < psnr[("example-bilinear", 4)] < psnr[("bicubic", 4)]  # bilinear is the weaker baseline


def test_the_plugins_own_tests_pass_the_contract_kit(env: dict[str, str]) -> None:
    res = _run(["-m", "pytest", "-q", str(EXAMPLE / "tests")], env, cwd=EXAMPLE)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "35 passed" in res.stdout and "skipped" not in res.stdout, res.stdout  # 10 checks x 3 scales + 5
