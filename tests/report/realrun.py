"""One real `srbench run` per test session (library call), shared by the report, table and check tests:
bicubic on Set5 and Set14 x4, PSNR/SSIM, gray raw, no throughput, the first 2 images of each set saved for comparison.
It is the configuration of the committed fixture (fixtures/bicubic_x4) and baseline
(baselines/bicubic_set5-set14_x4.json)."""

from __future__ import annotations

import tempfile
from pathlib import Path

_CACHE: dict[str, Path] = {}


def bicubic_set5_set14_x4(data_dir: Path) -> Path:
    key = str(data_dir)
    if key not in _CACHE:
        from srbench.evaluate import RunConfig, evaluate

        out = Path(tempfile.mkdtemp(prefix="srbench-real-")) / "bicubic-set5-set14-x4"
        config = RunConfig(models=("bicubic",), datasets=("set5", "set14"), scales=(4,), metrics=("psnr", "ssim"),
                           data_dir=str(data_dir), throughput=False,
                           grayscale="raw")  # the published bicubic tables score gray raw
        outcome = evaluate(config, out, progress=False, log=lambda msg: None)
        if not outcome.ok:
            raise RuntimeError(f"the real bicubic run failed: {outcome.errors}")
        _CACHE[key] = out
    return _CACHE[key]
