"""Plain helpers shared across the test packages (fixtures live in the conftest.py files)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# What `srbench doctor` lists, in order (tests/test_doctor.py, tests/cli/test_doctor.py)
DOCTOR_NAMES = ["lpips", "LPIPS alex backbone", "LPIPS vgg backbone", "NIQE pristine model", "Datasets folder",
                "VGG19 (training)", "tensorflow", "onnxruntime", "spandrel", "numba", "CUDA"]


def shared_datasets_dir() -> Path | None:
    env = os.environ.get("SRBENCH_SHARED_DATASETS")
    if env and (Path(env) / "Set5" / "HR").is_dir():
        return Path(env)
    return None
