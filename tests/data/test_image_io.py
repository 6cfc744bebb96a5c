"""srbench.data.io: every image becomes uint8 HWC with 1 or 3 channels, conversions pinned to what PIL /
MATLAB do, unreadable files named in the error; lossless atomic writes; hashes of decoded pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench.data.io import list_images, pixel_sha256, read_image, write_image
from srbench.interfaces import ImageError

RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, (7, 9, 3), dtype=np.uint8)


def test_rgb_grey_round_trip_losslessly(tmp_path: Path) -> None:
    write_image(tmp_path / "c.png", RGB)
    assert np.array_equal(read_image(tmp_path / "c.png"), RGB)
    grey = RGB[:, :, :1].copy()
    write_image(tmp_path / "g.png", grey)
    back = read_image(tmp_path / "g.png")
    assert back.shape == (7, 9, 1) and np.array_equal(back, grey)
    write_image(tmp_path / "c.bmp", RGB)
    assert np.array_equal(read_image(tmp_path / "c.bmp"), RGB)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_fast_png_is_the_same_pixels_at_a_lower_zlib_level(tmp_path: Path) -> None:
    smooth = np.tile(np.arange(64, dtype=np.uint8), (48, 1))[:, :, None].repeat(3, axis=2)  # compressible
    write_image(tmp_path / "default.png", smooth)
    write_image(tmp_path / "fast.png", smooth, fast=True)
    assert np.array_equal(read_image(tmp_path / "fast.png"), smooth)
    assert (tmp_path / "fast.png").read_bytes() != (tmp_path / "default.png").read_bytes()
    write_image(tmp_path / "fast.bmp", RGB, fast=True)  # not a PNG: written as usual
    assert np.array_equal(read_image(tmp_path / "fast.bmp"), RGB)


def test_modes_become_rgb_or_grey(tmp_path: Path) -> None:
    Image.fromarray(np.dstack([RGB, np.full((7, 9), 7, np.uint8)])).save(tmp_path / "a.png")  # RGBA
    assert np.array_equal(read_image(tmp_path / "a.png"), RGB)  # alpha dropped, colour kept
    Image.fromarray(RGB).convert("P").save(tmp_path / "p.png")
    pal = Image.open(tmp_path / "p.png").convert("RGB")
    assert np.array_equal(read_image(tmp_path / "p.png"), np.asarray(pal))
    Image.fromarray(RGB).convert("CMYK").save(tmp_path / "k.tif")
    assert read_image(tmp_path / "k.tif").shape == (7, 9, 3)
    Image.fromarray(RGB[:, :, 0]).convert("1").save(tmp_path / "b.png")
    assert set(np.unique(read_image(tmp_path / "b.png"))) <= {0, 255}


def test_16_bit_scales_like_im2uint8(tmp_path: Path) -> None:
    v = np.array([[0, 128, 257, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(v).save(tmp_path / "s.png")
    got = read_image(tmp_path / "s.png")[:, :, 0]
    assert got.tolist() == [[0, 0, 1, 128, 255]]  # round(v * 255 / 65535)


@pytest.mark.parametrize(("content", "words"), [
    (None, "file not found"),
    (b"", "not an image"),
    (b"hello, not a PNG", "not an image"),
])
def test_unreadable_files_are_named(tmp_path: Path, content: bytes | None, words: str) -> None:
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError) as info:
        read_image(path)
    assert str(path) in str(info.value) and words in str(info.value)


def test_truncated_png_is_a_named_error(tmp_path: Path) -> None:
    write_image(tmp_path / "t.png", RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        read_image(tmp_path / "t.png")


def test_float_images_and_bad_dtypes_are_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((3, 3), np.float32), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(ImageError, match="floating-point"):
        read_image(tmp_path / "f.tif")
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "w.png", RGB.astype(np.float32))


def test_pixel_hash_ignores_encoding_but_not_shape_or_values(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", RGB)
    Image.fromarray(RGB).save(tmp_path / "b.png", compress_level=0)
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()
    assert pixel_sha256(read_image(tmp_path / "a.png")) == pixel_sha256(read_image(tmp_path / "b.png"))
    assert pixel_sha256(RGB) != pixel_sha256(RGB.reshape(9, 7, 3))
    changed = RGB.copy()
    changed[0, 0, 0] ^= 1
    assert pixel_sha256(RGB) != pixel_sha256(changed)


def test_list_images_is_sorted_and_skips_hidden_and_other_files(tmp_path: Path) -> None:
    for name in ("b.PNG", "a.jpg", ".hidden.png", "notes.txt", "c.tiff"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.tiff"]
