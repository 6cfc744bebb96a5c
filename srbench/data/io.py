"""Image file I/O: the only place where uint8 HWC arrays meet the disk.

Every image becomes uint8 HWC with 1 (grayscale) or 3 (RGB) channels. Conversions are explicit and
reported through ``ImageError`` when impossible, naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from srbench.files import atomic_write
from srbench.interfaces import ImageError

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".ppm", ".webp")
EXIF_ORIENTATION = 0x0112


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> np.ndarray:
    """Read ``path`` as uint8 HWC, C = 1 for grayscale and 3 for colour.

    Palette images become RGB; RGBA/LA drop alpha (evaluation is on colour only); 16-bit images are
    scaled to 8 bits with rounding (v * 255 / 65535), as MATLAB's ``im2uint8`` does. An EXIF orientation
    tag is applied (the image is rotated/flipped the way viewers show it). ``max_pixels``: an image with
    more pixels is refused from its header, before anything is decoded (a decompression bomb: a 1 MB
    PNG can claim 20000x20000 pixels); None leaves only Pillow's own bomb limit.
    """
    path = Path(path)
    try:
        with _pillow_limit(max_pixels), Image.open(path) as im:
            w, h = im.size
            if max_pixels is not None and w * h > max_pixels:
                raise ImageError(str(path), f"{w}x{h} pixels ({w * h / 1e6:.1f} MP) exceed the limit of "
                                            f"{max_pixels / 1e6:g} MP (raise it with --max-pixels if the image is "
                                            "meant to be this large)")
            im.load()
            if im.getexif().get(EXIF_ORIENTATION, 1) != 1:
                im = ImageOps.exif_transpose(im)
            return _to_uint8(im, path)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(str(path), f"refused as a decompression bomb ({exc})") from None
    except FileNotFoundError:
        raise ImageError(str(path), "file not found") from None
    except UnidentifiedImageError:
        raise ImageError(str(path), "not an image, or an image format Pillow cannot read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(str(path), f"corrupt or truncated image ({exc})") from None


class _pillow_limit:
    """With our own header check in force, Pillow's global bomb limit steps aside (restored after)."""

    def __init__(self, max_pixels: int | None) -> None:
        self.active = max_pixels is not None

    def __enter__(self) -> None:
        self.saved = Image.MAX_IMAGE_PIXELS
        if self.active:
            Image.MAX_IMAGE_PIXELS = None

    def __exit__(self, *exc: object) -> None:
        Image.MAX_IMAGE_PIXELS = self.saved


def _to_uint8(im: Image.Image, path: Path) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        if arr.max(initial=0) > 65535 or arr.min(initial=0) < 0:
            raise ImageError(str(path), f"{mode} image with values outside 0..65535")
        return np.round(arr * (255.0 / 65535.0)).astype(np.uint8)[:, :, None]
    if mode in ("1", "L", "LA"):
        return np.asarray(im.convert("L"), dtype=np.uint8)[:, :, None]
    if mode in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
    if mode == "F":
        raise ImageError(str(path), "floating-point images are not supported (expected 8- or 16-bit)")
    raise ImageError(str(path), f"unsupported image mode {mode!r}")


def write_image(path: str | os.PathLike[str], image: np.ndarray, *, fast: bool = False) -> None:
    """Write uint8 HWC (C = 1 or 3) or HW losslessly (format from the suffix), atomically. ``fast``: a PNG
    at zlib level 1 (a third of the default level 6's time, files about a fifth larger; the same pixels)."""
    path = Path(path)
    if image.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8, got {image.dtype}")
    arr = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    options = {"compress_level": 1} if fast and path.suffix.lower() == ".png" else {}
    try:
        atomic_write(path, lambda tmp: Image.fromarray(arr).save(tmp, **options))
    except OSError as exc:  # name the file meant (the error names the temporary one, or none: a full disk)
        if exc.filename == str(path):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def pixel_sha256(image: np.ndarray) -> str:
    """Hash of decoded pixels (shape + bytes), so that re-encoded copies of an image still verify."""
    h = hashlib.sha256()
    h.update(f"{image.shape[0]}x{image.shape[1]}x{image.shape[2] if image.ndim == 3 else 1}:".encode())
    h.update(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    return h.hexdigest()


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name; hidden files are skipped."""
    folder = Path(folder)
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
