"""Crop geometry of the visual comparisons."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from srbench.report.crops import (
    auto_box,
    crop,
    draw_box,
    fit_box,
    parse_box,
    png_data_uri,
    thumbnail,
    zoom_nearest,
)


def test_parse_box_and_errors() -> None:
    assert parse_box(" 10, 20,30,40") == (10, 20, 30, 40)
    for bad, msg in [("1,2,3", "four integers"), ("a,b,c,d", "integers"), ("1,2,0,4", "w, h > 0"),
                     ("-1,2,3,4", ">= 0")]:
        with pytest.raises(ValueError, match=msg):
            parse_box(bad)
    assert fit_box((90, 0, 20, 20), 100, 100) is None
    assert fit_box((80, 80, 20, 20), 100, 100) == (80, 80, 20, 20)


def test_auto_box_finds_the_textured_region() -> None:
    rng = np.random.default_rng(0)
    img = np.full((200, 300, 3), 128, np.uint8)
    img[120:168, 200:248] = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)  # texture at x=200, y=120
    x, y, w, h = auto_box(img, size=48, stride=4)
    assert (w, h) == (48, 48)
    assert abs(x - 200) <= 4 and abs(y - 120) <= 4
    # default size: a quarter of the shorter side, clipped to [16, 128]
    assert auto_box(img)[2] == 50
    assert auto_box(np.zeros((20, 20, 1), np.uint8))[2] == 16


def test_zoom_crop_draw_thumbnail() -> None:
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    z = zoom_nearest(crop(img, (1, 2, 2, 2)), 3)
    assert z.shape == (6, 6, 3)
    assert (z[:3, :3] == img[2, 1]).all() and (z[3:, 3:] == img[3, 2]).all()
    with pytest.raises(ValueError, match="outside"):
        crop(img, (5, 0, 2, 2))
    boxed = draw_box(np.zeros((10, 10, 1), np.uint8), (2, 2, 5, 5), thickness=1)
    assert boxed.shape == (10, 10, 3)
    assert (boxed[2, 2:7] == (255, 32, 32)).all() and (boxed[4, 4] == 0).all()
    assert thumbnail(np.zeros((100, 400, 3), np.uint8), 200).shape == (50, 200, 3)
    uri = png_data_uri(img)
    assert uri.startswith("data:image/png;base64,")
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert (back == img).all()  # lossless
