"""One small run made through the library (``srbench.evaluate.evaluate``) per test session, for the report's
browser acceptance test: bicubic and srresnet (demo weights) x4 on a ``folder:`` dataset of three
208x112 crops of Set5 (synthetic images without $SRBENCH_SHARED_DATASETS), PSNR/SSIM/NIQE (no LPIPS: the
perception-distortion plane falls back to NIQE, which needs two 96x96 blocks after the border crop), every
image saved for comparison, throughput on at one 32x32 size (plus the dataset's own LR images)."""

from __future__ import annotations

import tempfile
from pathlib import Path

_CACHE: dict[str, Path] = {}
CROP = (112, 208)  # h, w: NIQE needs >= 2 blocks of 96x96 after the x4 border crop


def small_library_run() -> Path:
    if "run" not in _CACHE:
        from srbench.data.io import write_image
        from srbench.evaluate import RunConfig, evaluate
        from tests.helpers import shared_datasets_dir
        from tests.report.fakerun import load_hr, synthetic_images

        root = Path(tempfile.mkdtemp(prefix="srbench-lib-"))
        folder = root / "mini"
        folder.mkdir()
        d = shared_datasets_dir()
        images = load_hr(d / "Set5" / "HR", limit=3) if d else synthetic_images(3, size=224)
        h, w = CROP
        for name, img in images.items():
            y, x = max(0, (img.shape[0] - h) // 2), max(0, (img.shape[1] - w) // 2)
            write_image(folder / f"{name}.png", img[y : y + h, x : x + w])
        config = RunConfig(models=("bicubic", "srresnet"), datasets=(f"folder:{folder}",), scales=(4,),
                           metrics=("psnr", "ssim", "niqe"), throughput=True, throughput_sizes=(32,), n_compare=3)
        outcome = evaluate(config, root / "run", progress=False, log=lambda msg: None)
        if not outcome.ok:
            raise RuntimeError(f"the small library run failed: {outcome.errors}")
        _CACHE["run"] = root / "run"
    return _CACHE["run"]
