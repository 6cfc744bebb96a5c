"""Issue 23 item 14: small CLI and message fixes."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from srbench.cli import cli


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(5):
        Image.fromarray(np.full((24, 24, 3), 40 * i, dtype=np.uint8)).save(d / f"im{i}.png")
    return d


def test_export_with_scale_0_is_one_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["datasets", "export", f"folder:{_folder(tmp_path)}", "--scale", "0",
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert res.output.count("rror") == 1 and "--scale" in res.output
    assert not (tmp_path / "out").exists()


def test_export_dataset_refuses_a_bad_scale_once(tmp_path: Path) -> None:
    from srbench.data.sources import export_dataset

    with pytest.raises(ValueError, match="scale must be"):
        export_dataset(f"folder:{_folder(tmp_path)}", 0, tmp_path / "out")


@pytest.mark.parametrize("tile", ["-3", "0"])
def test_a_non_positive_tile_is_refused_whatever_the_models(tmp_path: Path, tile: str) -> None:
    res = CliRunner().invoke(cli, ["run", "--models", "bicubic", "--datasets", f"folder:{_folder(tmp_path)}",
                                   "--tile", tile, "--out", str(tmp_path / "run"), "--no-throughput"])
    assert res.exit_code == 2, res.output
    assert "--tile" in res.output and not (tmp_path / "run").exists()


def test_the_x2_no_weights_hint_names_the_option_form() -> None:
    from srbench.interfaces import ModelError
    from srbench.models.srresnet import build_srresnet

    with pytest.raises(ModelError, match=r"--weights srresnet=PATH"):
        build_srresnet(2)


def test_disk_full_while_saving_an_image_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from srbench.data.io import write_image

    def full(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    target = tmp_path / "images" / "set5" / "x4" / "bicubic" / "baby.png"
    with pytest.raises(OSError, match="No space left on device") as info:
        write_image(target, np.zeros((4, 4, 3), dtype=np.uint8))
    assert str(target) in str(info.value) and info.value.errno == errno.ENOSPC
    assert [p.name for p in target.parent.iterdir()] == []  # no temporary file left
