"""The built wheel, installed into a fresh virtual environment, runs `srbench run` from outside the
repository: what users get from `pip install srbench` (package data: templates, demo weights, the
catalogue manifests, published baselines; the console script; the entry-point group).

Speed trick: the fresh venv gets no packages of its own but a .pth line pointing at the test runner's
site-packages (torch, numpy, ... of the repo's .venv in CI, derived from ``sys.prefix``); the wheel is
installed with ``--no-deps --no-index``. So srbench itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".ruff_cache",
                               ".benchmarks", ".pytest_cache", "reports", "runs", "node_modules")


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload]
    assert p.returncode == 0, f"{cmd}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import setuptools  # noqa: F401  (the build backend, used without build isolation: no network)
    except ImportError:
        pytest.skip("setuptools is not installed in the test environment")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=_SKIP)  # build from a copy: no build/ or egg-info in the checkout
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(tmp / "dist"), str(src)])
    wheel = next((tmp / "dist").glob("srbench-*.whl"))
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    base = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    (site / "_srbench_test_base.pth").write_text("\n".join(dict.fromkeys(base)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)])
    return venv


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "SRBENCH_DATA_DIR")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def test_the_wheel_carries_the_package_data(installed: Path) -> None:
    wheel = next((installed.parent / "dist").glob("srbench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("srbench/report/templates/report.html.j2", "srbench/catalogue/set5.toml",
                   "srbench/baselines/published.csv"):
        assert needed in names, needed
    assert any(n.startswith("srbench/baselines/demo/") and n.endswith(".safetensors") for n in names)  # demo weights
    assert any(n.endswith("entry_points.txt") for n in names)


def test_srbench_run_from_the_installed_wheel_outside_the_repo(installed: Path, tmp_path: Path) -> None:
    exe = installed / ("Scripts/srbench.exe" if os.name == "nt" else "bin/srbench")
    py = installed / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    where = _run([str(py), "-c", "import srbench; print(srbench.__file__)"], cwd=tmp_path, env=_env()).stdout
    assert Path(where.strip()).is_relative_to(installed), where  # srbench from the wheel, not the checkout
    out = tmp_path / "run"
    p = _run([str(exe), "run", "-m", "bicubic", "-d", "samples", "--no-throughput", "--no-progress",
              "--metrics", "psnr,ssim", "-o", str(out)], cwd=tmp_path, env=_env())
    assert "bicubic" in p.stdout and "psnr" in p.stdout
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and set(run["models"]) == {"bicubic"}
    assert (out / "report.html").stat().st_size > 1000  # the template came with the wheel
    listed = _run([str(exe), "datasets", "list"], cwd=tmp_path, env=_env()).stdout
    assert "set5" in listed and "div2k-valid" in listed  # the catalogue manifests came with the wheel
