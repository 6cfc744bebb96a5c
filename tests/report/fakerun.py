"""Build run directories for the report/table/check tests, in the format of docs/schema.md.

Two levels:
- ``write_run``: write a run directory from given rows (exact numbers, for golden files);
- ``make_image_run``: compute a small *real* run from images (Set5 from $SRBENCH_SHARED_DATASETS when present,
  synthetic images otherwise): LR by PIL bicubic (not the MATLAB protocol: good enough to exercise the
  outputs), models "bicubic", "nearest" and "<model>-blurred" (bicubic output blurred: a degraded adapter),
  PSNR/SSIM on MATLAB Y with crop = scale (skimage SSIM, Gaussian 11x11 sigma 1.5), and an LPIPS *proxy*
  (1 - RGB SSIM: this machine has no AlexNet weights; it only needs the lower-is-better direction).
When the lead's `srbench run` can run offline these helpers are replaced by real runs where it matters.
"""

from __future__ import annotations

import copy
import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from srbench.data.io import pixel_sha256, read_image, write_image

METRICS_META = {
    "psnr": {"higher_is_better": True, "unit": "dB", "version": "1", "default_tolerance": 0.05},
    "ssim": {"higher_is_better": True, "unit": "", "version": "1", "default_tolerance": 0.001},
    "lpips": {"higher_is_better": False, "unit": "", "version": "0.1", "default_tolerance": 0.005},
}

PROTOCOL = {
    "modcrop": "scale",
    "lr": "MATLAB imresize bicubic (Keys a=-0.5, antialias, uint8)",
    "quantisation": "clamp [0,255] + round to uint8",
    "crop_border": "scale",
    "colour": "y-matlab",
    "grayscale": "raw values, no Y transform",
    "psnr": "10 log10(255^2/MSE), float64, mean over images",
    "ssim": "Wang et al. ssim_index.m: gaussian 11x11 sigma 1.5, valid, K1 .01 K2 .03",
    "lpips": {"available": True, "net": "alex", "version": "0.1", "range": "[-1,1]", "reason": None},
}


def base_meta(models: list[str], datasets: list[str], scales: list[int], metrics: list[str]) -> dict[str, Any]:
    """A complete run.json for the given axes (schema version 1)."""
    return {
        "schema_version": 1,
        "run_id": "20261126-001500-test",
        "created": "2026-11-26T00:15:00+00:00",
        "srbench_version": "0.1.0",
        "git_sha": "49c941e0000000000000000000000000000000",
        "command": "srbench run --models " + ",".join(models) + " --datasets " + ",".join(datasets),
        "config": {"models": models, "datasets": datasets, "scales": scales, "device": "cpu",
                   "lr_source": "matlab-bicubic", "metrics": metrics, "compare": None, "crop_box": None,
                   "seed": 0},
        "protocol": copy.deepcopy(PROTOCOL),
        "environment": {"python": "3.11.7", "platform": "Linux-x86_64", "torch": "2.14.1", "numpy": "2.1.0",
                        "device_name": "CPU: Test CPU @ 2.0GHz", "threads": 2, "cuda": None},
        "models": {m: {"description": f"{m} adapter", "weights": None, "weights_sha256": None, "params": None,
                       "demo": False} for m in models},
        "datasets": {d: {"source": f"/data/{d}/HR", "n_images": 0, "verified": True, "hr_pixel_sha256": {}}
                     for d in datasets},
        "metrics": {m: dict(METRICS_META[m]) for m in metrics if m in METRICS_META},
        "comparisons": [],
        "errors": [],
        "warnings": [],
        "status": "complete",
    }


def deep_update(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict update (dicts merge, anything else replaces)."""
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def write_run(
    root: Path,
    rows: Iterable[tuple[str, str, int, str, str, float]],
    *,
    meta: Mapping[str, Any] | None = None,
    throughput: list[dict[str, Any]] | None = None,
    write_summary: bool = True,
) -> Path:
    """Write results.csv (+ summary.csv, run.json, throughput.csv) from (model, dataset, scale, image,
    metric, value) rows. ``meta`` is merged into the default run.json."""
    root.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    models = list(dict.fromkeys(r[0] for r in rows))
    datasets = list(dict.fromkeys(r[1] for r in rows))
    scales = sorted({int(r[2]) for r in rows})
    metrics = list(dict.fromkeys(r[4] for r in rows))
    run = base_meta(models, datasets, scales, metrics)
    for d in datasets:
        run["datasets"][d]["n_images"] = len({r[3] for r in rows if r[1] == d})
    if meta:
        deep_update(run, meta)
    with open(root / "results.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["model", "dataset", "scale", "image", "metric", "value"])
        for r in rows:
            w.writerow([r[0], r[1], int(r[2]), r[3], r[4], repr(float(r[5]))])
    if write_summary:
        groups: dict[tuple[str, str, int, str], list[float]] = {}
        for r in rows:
            groups.setdefault((r[0], r[1], int(r[2]), r[4]), []).append(float(r[5]))
        with open(root / "summary.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["model", "dataset", "scale", "metric", "value", "n_images"])
            for (m, d, s, k), vals in groups.items():
                w.writerow([m, d, s, k, repr(float(np.mean(vals))), len(vals)])
    if throughput:
        cols = list(dict.fromkeys(c for row in throughput for c in row))
        with open(root / "throughput.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(throughput)
    (root / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    return root


# ---------------------------------------------------------------- real (small) runs computed from images


def _y(img: np.ndarray) -> np.ndarray:
    x = img.astype(np.float64)
    if x.shape[2] == 1:
        return x[:, :, 0]
    return 16.0 + (65.481 * x[:, :, 0] + 128.553 * x[:, :, 1] + 24.966 * x[:, :, 2]) / 255.0


def _psnr(sr: np.ndarray, hr: np.ndarray) -> float:
    mse = float(np.mean((sr - hr) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def _ssim(sr: np.ndarray, hr: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(sr, hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                       data_range=255.0))


def synthetic_images(n: int = 3, size: int = 96, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic textured RGB images (gradients, a disc, stripes, noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    out = {}
    for i in range(n):
        r = 127 + 100 * np.sin(xx / (4 + i)) * np.cos(yy / (7 + i))
        g = 255 * ((xx - size / 2) ** 2 + (yy - size / 3) ** 2 < (size / (4 + i)) ** 2)
        b = 255 * (xx + yy) / (2 * size)
        img = np.stack([r, g, b], -1) + rng.normal(0, 8, (size, size, 3))
        out[f"img{i:02d}"] = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return out


def load_hr(folder: Path | None, limit: int = 5) -> dict[str, np.ndarray]:
    if folder is None:
        return synthetic_images()
    from srbench.data.io import list_images

    return {p.stem: read_image(p) for p in list_images(folder)[:limit]}


def _upscale(lr: np.ndarray, scale: int, method: str) -> np.ndarray:
    from PIL import Image

    h, w, c = lr.shape
    mode = Image.Resampling.NEAREST if method == "nearest" else Image.Resampling.BICUBIC
    arr = lr[:, :, 0] if c == 1 else lr
    up = np.asarray(Image.fromarray(arr).resize((w * scale, h * scale), mode))
    return up[:, :, None] if c == 1 else up


def _downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    from PIL import Image

    h, w, c = hr.shape
    arr = hr[:, :, 0] if c == 1 else hr
    lr = np.asarray(Image.fromarray(arr).resize((w // scale, h // scale), Image.Resampling.BICUBIC))
    return lr[:, :, None] if c == 1 else lr


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    out = gaussian_filter(img.astype(np.float64), sigma=(sigma, sigma, 0))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def make_image_run(
    root: Path,
    hr_images: Mapping[str, Mapping[str, np.ndarray]],
    *,
    models: Mapping[str, str] | None = None,
    scale: int = 4,
    metrics: tuple[str, ...] = ("psnr", "ssim", "lpips"),
    compare: int = 2,
    meta: Mapping[str, Any] | None = None,
    throughput: bool = True,
) -> Path:
    """A real small run: ``hr_images`` = {dataset: {image: uint8 HWC}}; ``models`` = {name: method} with
    method "bicubic", "nearest" or "blurred" (bicubic then Gaussian blur sigma 1.2: a degraded adapter)."""
    models = dict(models or {"bicubic": "bicubic", "nearest": "nearest"})
    rows: list[tuple[str, str, int, str, str, float]] = []
    comparisons = []
    hashes: dict[str, dict[str, str]] = {}
    for dataset, images in hr_images.items():
        hashes[dataset] = {}
        for idx, (name, hr_full) in enumerate(sorted(images.items())):
            h, w = hr_full.shape[0] - hr_full.shape[0] % scale, hr_full.shape[1] - hr_full.shape[1] % scale
            hr = hr_full[:h, :w]
            hashes[dataset][name] = pixel_sha256(hr)
            lr = _downscale(hr, scale)
            entry = {"dataset": dataset, "scale": scale, "image": name,
                     "hr": f"images/{dataset}/x{scale}/HR/{name}.png", "models": {}}
            if idx < compare:
                write_image(root / entry["hr"], hr)
            for model, method in models.items():
                sr = _upscale(lr, scale, "nearest" if method == "nearest" else "bicubic")
                if method == "blurred":
                    sr = _blur(sr, 1.2)
                c = scale
                ys, yh = _y(sr)[c:-c, c:-c], _y(hr)[c:-c, c:-c]
                values = {"psnr": _psnr(ys, yh), "ssim": _ssim(ys, yh)}
                if "lpips" in metrics:
                    rgb_s = sr[c:-c, c:-c].astype(np.float64)
                    rgb_h = hr[c:-c, c:-c].astype(np.float64)
                    values["lpips"] = 1.0 - float(np.mean([_ssim(rgb_s[..., k], rgb_h[..., k])
                                                           for k in range(rgb_s.shape[2])]))
                for metric in metrics:
                    rows.append((model, dataset, scale, name, metric, values[metric]))
                if idx < compare:
                    rel = f"images/{dataset}/x{scale}/{model}/{name}.png"
                    write_image(root / rel, sr)
                    entry["models"][model] = rel
            if idx < compare:
                comparisons.append(entry)
    tp = None
    if throughput:
        tp = [{"model": m, "scale": scale, "lr_height": 64, "lr_width": 64, "batch": 1, "dtype": "float32",
               "device": "cpu", "ms_median": 2.0 + 3 * i, "ms_p90": 2.5 + 3 * i,
               "images_per_s": 1000.0 / (2.0 + 3 * i), "mpix_per_s": 65.536 / (2.0 + 3 * i), "params": 0,
               "gflops": 0.01, "achieved_gflops_per_s": 5.0, "peak_gflops_per_s": 100.0,
               "peak_fraction": 0.05, "input": "64x64"} for i, m in enumerate(models)]
    patch: dict[str, Any] = {
        "comparisons": comparisons,
        "datasets": {d: {"n_images": len(imgs), "hr_pixel_sha256": hashes[d]} for d, imgs in hr_images.items()},
    }
    if meta:
        deep_update(patch, meta)
    return write_run(root, rows, meta=patch, throughput=tp)
