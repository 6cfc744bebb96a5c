"""srbench.data.sources: dataset specs (samples, folder:PATH, catalogue names found under --data-dir or
$SRBENCH_DATA_DIR), HR -> modcrop -> LR pairs (MATLAB bicubic or the official files), export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srbench.data.imresize import bicubic_lr
from srbench.data.io import read_image, write_image
from srbench.data.sources import SAMPLES, HRImage, export_dataset, make_pair, resolve_dataset
from srbench.interfaces import DatasetError, ImageError

RNG = np.random.default_rng(5)


def _layout(root: Path, folder: str = "Set5") -> Path:
    hr = root / folder / "HR"
    for name, shape in (("baby", (18, 21, 3)), ("bird", (16, 16, 3))):
        write_image(hr / f"{name}.png", RNG.integers(0, 256, shape, dtype=np.uint8))
    return root


def test_samples_are_built_in() -> None:
    src = resolve_dataset("samples")
    assert src.name == "samples" and [im.id for im in src.images] == list(SAMPLES)
    im = src.images[0].load()
    assert im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] in (1, 3)


def test_folder_specs_plain_and_benchmark_layout(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    plain = resolve_dataset(f"folder:{root / 'Set5' / 'HR'}")
    assert plain.name == "HR" and [i.id for i in plain.images] == ["baby", "bird"] and plain.lr_root is None
    (root / "Set5" / "LR_bicubic" / "X2").mkdir(parents=True)
    bench = resolve_dataset(f"folder:{root / 'Set5'}")
    assert bench.name == "Set5" and bench.lr_root == root / "Set5" and bench.catalogue is None
    with pytest.raises(DatasetError, match="does not exist"):
        resolve_dataset(f"folder:{tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images in"):
        resolve_dataset(f"folder:{tmp_path / 'empty'}")


def test_catalogue_names_are_found_under_data_dir_and_the_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _layout(tmp_path / "data")
    src = resolve_dataset("set5", data_dir=root, download=False)
    assert src.name == "set5" and src.catalogue == "set5" and len(src.images) == 2
    monkeypatch.setenv("SRBENCH_DATA_DIR", str(root))
    assert resolve_dataset("Set5", download=False).name == "set5"
    monkeypatch.delenv("SRBENCH_DATA_DIR")
    with pytest.raises(DatasetError, match="not found locally"):
        resolve_dataset("set14", data_dir=root, download=False)
    with pytest.raises(DatasetError, match="Also: samples, folder:PATH"):
        resolve_dataset("set55", data_dir=root, download=False)


def test_make_pair_modcrops_and_makes_matlab_lr(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    image = HRImage("baby", path=root / "Set5" / "HR" / "baby.png")
    pair = make_pair(image, 4)
    full = read_image(image.path)
    assert pair.hr.shape == (16, 20, 3) and np.array_equal(pair.hr, full[:16, :20])
    assert np.array_equal(pair.lr, bicubic_lr(full[:16, :20], 4)) and pair.lr.shape == (4, 5, 3)
    with pytest.raises(ImageError, match="smaller than the scale"):
        make_pair(image, 32)
    with pytest.raises(ValueError, match="lr_source"):
        make_pair(image, 2, lr_source="pil")


def test_official_lr_is_read_and_its_size_checked(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    image = HRImage("bird", path=root / "Set5" / "HR" / "bird.png")
    with pytest.raises(ImageError, match="no LR_bicubic folder"):
        make_pair(image, 2, lr_source="official")
    lr = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    write_image(root / "Set5" / "LR_bicubic" / "X2" / "birdx2.png", lr)
    pair = make_pair(image, 2, lr_source="official", lr_root=root / "Set5")
    assert np.array_equal(pair.lr, lr)
    write_image(root / "Set5" / "LR_bicubic" / "X2" / "birdx2.png", lr[:7])
    with pytest.raises(ImageError, match="wrong-sized LR/HR pair"):
        make_pair(image, 2, lr_source="official", lr_root=root / "Set5")


def test_export_writes_what_make_pair_makes_and_reports_bad_images(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    (root / "Set5" / "HR" / "zz.png").write_bytes(b"broken")
    n, errors = export_dataset(f"folder:{root / 'Set5'}", 2, tmp_path / "out")
    assert n == 2 and len(errors) == 1 and "zz.png" in errors[0]
    pair = make_pair(HRImage("baby", path=root / "Set5" / "HR" / "baby.png"), 2)
    assert np.array_equal(read_image(tmp_path / "out" / "LR_bicubic" / "X2" / "babyx2.png"), pair.lr)
    assert np.array_equal(read_image(tmp_path / "out" / "HR" / "baby.png"), pair.hr)
