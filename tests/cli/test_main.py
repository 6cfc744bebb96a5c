"""The `srbench` entry point itself: the installed console script, --help, and a start-up without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_console_script_is_real_and_imports_no_torch() -> None:
    exe = Path(sys.executable).with_name("srbench")
    p = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "run" in p.stdout and "datasets" in p.stdout
    # --help is instant because nothing heavy is imported at start-up:
    p = subprocess.run([sys.executable, "-c", "import srbench, sys; print('torch' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "False"
