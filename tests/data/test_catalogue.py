"""The catalogue: manifests load and pin the right sources; verify_hr; fetch end to end (local server)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench.data import download as dl
from srbench.data import fetch as fetch_module
from srbench.data.catalogue import (
    cache_dir,
    fetch,
    folder_name,
    list_manifests,
    load_manifest,
    read_manifest,
    verify_hr,
)
from srbench.data.io import pixel_sha256, read_image
from srbench.interfaces import DatasetError

EDSR_BENCHMARK_MD5 = "4ace41d33c2384b97e6b320cd0afd6ba"
# docs/protocol.md, "Dataset sources" (the official DIV2K site): file -> (bytes, sha256)
DIV2K = {
    "DIV2K_train_HR.zip": (3530603713, "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"),
    "DIV2K_train_LR_bicubic_X2.zip": (
        925390592,
        "a53a424317575838dadce4bcd97cf7b744d6855f43740ed5f0245af3cf4bd850",
    ),
    "DIV2K_train_LR_bicubic_X3.zip": (
        427847282,
        "ad5c8e5507e2765823d3c2c5bd0934842efcd487c5370604c224090898b3163a",
    ),
    "DIV2K_train_LR_bicubic_X4.zip": (
        246914039,
        "f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a",
    ),
    "DIV2K_valid_HR.zip": (448993893, "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"),
    "DIV2K_valid_LR_bicubic_X2.zip": (
        117763600,
        "60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57",
    ),
    "DIV2K_valid_LR_bicubic_X3.zip": (
        54513392,
        "04b9a2ed3b4a0715d3924d3ae8514830c3328fac8d30512ce716d6f419e052a3",
    ),
    "DIV2K_valid_LR_bicubic_X4.zip": (
        31505881,
        "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553",
    ),
}


# ---------------------------------------------------------------------------------------------------------
# the shipped catalogue


def test_catalogue_lists_the_six_datasets_with_their_folders():
    folders = {m.name: m.folder for m in list_manifests()}
    assert folders == {
        "set5": "Set5",
        "set14": "Set14",
        "b100": "B100",
        "urban100": "Urban100",
        "div2k-train": "DIV2K_train",
        "div2k-valid": "DIV2K_valid",
    }
    for m in list_manifests():
        assert m.title and m.description and m.citation and m.licence and m.lr, m.name
        x8 = ("lr_x8",) if m.name.startswith("div2k") else ()  # the NTIRE 2018 bicubic x8 track
        assert m.scales == (2, 3, 4) + tuple(int(p[4:]) for p in x8)
        assert m.parts == ("hr", "lr_x2", "lr_x3", "lr_x4") + x8
        assert all(f.pinned for f in m.files if f.contains != ("lr_x8",)), m.name
        assert m.kind == ("train" if m.name == "div2k-train" else "benchmark")


@pytest.mark.parametrize(
    ("name", "count", "pinned"), [("set5", 5, 5), ("set14", 14, 14), ("b100", 100, 100), ("urban100", 100, 0)]
)
def test_benchmark_sets_come_from_the_edsr_package(name, count, pinned):
    m = load_manifest(name)
    assert m.count == count and len(m.hr) == pinned
    (f,) = m.files
    assert f.url == "https://cv.snu.ac.kr/research/EDSR/benchmark.tar" and f.md5 == EDSR_BENCHMARK_MD5
    assert (
        f.hr_dir == f"benchmark/{m.folder}/HR" and f.lr_dir == f"benchmark/{m.folder}/LR_bicubic/X{{scale}}"
    )
    if name == "urban100":
        assert "NO PIXEL HASHES" in m.notes and not m.mirrors and m.ids == ()


def test_mirrors_are_hr_only_never_the_pil_made_lr():
    for m in list_manifests():
        for f in m.mirrors:
            assert f.contains == ("hr",) and "_HR." in f.url and "_LR" not in f.url, f.url
            assert f.hr_dir == "*" and len(m.hr) == m.count  # unpinned bytes need pinned pixels


def test_div2k_files_match_the_official_table():
    seen = {}
    for name, first, last in (("div2k-train", "0001", "0800"), ("div2k-valid", "0801", "0900")):
        m = load_manifest(name)
        assert (m.ids[0], m.ids[-1], len(m.ids)) == (first, last, m.count)
        for f in m.files:
            assert f.url == f"https://data.vision.ee.ethz.ch/cvl/DIV2K/{f.filename}"
            if f.contains != ("lr_x8",):
                seen[f.filename] = (f.bytes, f.sha256)
    assert seen == DIV2K


def test_div2k_x8_track_is_listed_unpinned_and_says_so():
    """No hash of the x8 archives was known: the manifest says so instead of inventing one."""
    for split in ("train", "valid"):
        m = load_manifest(f"div2k-{split}")
        (f,) = [f for f in m.files if "lr_x8" in f.contains]
        assert f.filename == f"DIV2K_{split}_LR_x8.zip" and f.contains == ("lr_x8",)
        assert f.url == f"https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_{split}_LR_x8.zip"
        assert not f.pinned and f.bytes is None and "No sha256/size pinned" in f.note
        assert f.lr_dir.format(scale=8) == f"DIV2K_{split}_LR_x8" and f.lr_name.format(id="0801", scale=8) == "0801x8"
        assert 8 in m.scales and "x8 LR archive" in m.notes and "NO pinned hash" in m.notes


def test_an_unpinned_lr_file_needs_a_note(tmp_path):
    entry = '[[files]]\nurl = "https://x/y8.zip"\nfilename = "y8.zip"\ncontains = ["lr_x2"]\nlr_dir = "X{scale}"\n'
    with pytest.raises(DatasetError, match="or for an LR-only file whose note says why"):
        read_manifest(write_manifest(tmp_path / "a.toml", extra_file=entry))
    m = read_manifest(write_manifest(tmp_path / "b.toml", extra_file=entry + 'note = "no hash known"\n'))
    assert [f.pinned for f in m.files] == [True, False]


def test_names_folders_and_aliases_resolve():
    assert folder_name("b100") == "B100" and folder_name("div2k-valid") == "DIV2K_valid"
    assert load_manifest("BSD100").name == "b100" and load_manifest("Set5").name == "set5"
    assert load_manifest("DIV2K_valid").name == "div2k-valid"


def test_unknown_name_lists_known_names_and_suggests():
    with pytest.raises(DatasetError) as err:
        load_manifest("urban10")
    msg = str(err.value)
    assert "Did you mean 'urban100'?" in msg
    assert msg.endswith("Known datasets: b100, div2k-train, div2k-valid, set14, set5, urban100.")
    with pytest.raises(DatasetError, match="Did you mean 'b100'"):
        folder_name("bsd-100")


def test_cache_dir_follows_srbench_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SRBENCH_DATA_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("SRBENCH_DATA_DIR")
    assert cache_dir().parts[-2:] == ("srbench", "datasets")


@pytest.mark.shared
@pytest.mark.parametrize("name", ["set5", "set14", "b100"])
def test_pinned_pixel_hashes_match_the_shared_copies(shared_datasets, name):
    m = load_manifest(name)
    assert verify_hr(m, shared_datasets / m.folder / "HR") == []
    assert verify_hr(m, shared_datasets / m.folder) == []  # the dataset folder works too


@pytest.mark.shared
def test_set14_bridge_is_pinned_grayscale_and_man_rgb(shared_datasets):
    m = load_manifest("set14")
    assert m.hr["bridge"].shape == (512, 512, 1) and m.hr["man"].shape[2] == 3
    bridge = read_image(shared_datasets / "Set14/HR/bridge.png")
    assert bridge.shape == (512, 512, 1)
    # an independent hash of the same definition: "HxWxC:" + raw bytes
    raw = hashlib.sha256(b"512x512x1:" + np.ascontiguousarray(bridge).tobytes()).hexdigest()
    assert m.hr["bridge"].pixel_sha256 == raw


@pytest.mark.shared
def test_verify_hr_finds_missing_extra_changed_and_recoloured_images(shared_datasets, tmp_path):
    m5, m14 = load_manifest("set5"), load_manifest("set14")
    hr = tmp_path / "HR"
    shutil.copytree(shared_datasets / "Set5/HR", hr)
    Image.open(hr / "baby.png").save(hr / "baby.bmp")  # re-encoded copies verify: pixels, not bytes
    (hr / "baby.png").unlink()
    assert verify_hr(m5, hr) == []

    bird = read_image(hr / "bird.png").copy()
    bird[0, 0, 0] ^= 1
    Image.fromarray(bird).save(hr / "bird.png")
    (hr / "head.png").unlink()
    shutil.copy(hr / "woman.png", hr / "zebra.png")
    shutil.copy(hr / "woman.png", hr / "woman.bmp")
    problems = verify_hr(m5, hr)
    assert problems == [
        "duplicate image id 'woman': woman.bmp, woman.png",
        "missing image 'head'",
        "extra image 'zebra' (zebra.png)",
        "image 'bird' (bird.png): pixels differ from the pinned hash (shape 288x288x3 as expected)",
    ]

    hr14 = tmp_path / "HR14"
    shutil.copytree(shared_datasets / "Set14/HR", hr14)
    Image.open(hr14 / "bridge.png").convert("RGB").save(hr14 / "bridge.png")
    assert verify_hr(m14, hr14) == [
        "image 'bridge' (bridge.png): pixels differ from the pinned hash (shape 512x512x3, expected 512x512x1)"
    ]


def test_verify_hr_without_pinned_ids_checks_the_count(tmp_path):
    m = load_manifest("urban100")
    assert verify_hr(m, tmp_path / "nope") == [f"HR folder {tmp_path / 'nope'} does not exist"]
    (tmp_path / "HR").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "HR" / "img001.png")
    assert verify_hr(m, tmp_path) == ["expected 100 images, found 1"]


# ---------------------------------------------------------------------------------------------------------
# manifest parsing

GOOD = """
schema = 1
name = "toy"
folder = "Toy"
title = "Toy"
kind = "benchmark"
scales = [2]
description = "d"
citation = "c"
licence = "l"
lr = "r"

[[files]]
url = "{url}/pkg.tar.gz"
filename = "pkg.tar.gz"
md5 = "{md5}"
contains = ["hr", "lr_x2"]
hr_dir = "pkg/Toy/HR"
lr_dir = "pkg/Toy/LR_bicubic/X{{scale}}"
{extra_file}
{mirrors}
[images]
count = {count}
[images.hr]
{hr}
"""


def write_manifest(
    path: Path,
    *,
    url: str = "http://127.0.0.1:9",
    md5: str = "0" * 32,
    hr: dict | None = None,
    count: int | None = None,
    extra_file: str = "",
    mirrors: str = "",
    extra_top: str = "",
) -> Path:
    hr = hr if hr is not None else {"a": ("0" * 64, (4, 4, 3))}
    table = "\n".join(
        f'{k} = {{ pixel_sha256 = "{h}", shape = [{s[0]}, {s[1]}, {s[2]}] }}' for k, (h, s) in hr.items()
    )
    text = GOOD.format(
        url=url,
        md5=md5,
        hr=table,
        count=len(hr) if count is None else count,
        extra_file=extra_file,
        mirrors=mirrors,
    )
    path.write_text(extra_top + text)
    return path


def test_read_manifest_accepts_a_good_one(tmp_path):
    m = read_manifest(write_manifest(tmp_path / "toy.toml"))
    assert (m.name, m.folder, m.ids, m.parts, m.files[0].lr_name) == (
        "toy",
        "Toy",
        ("a",),
        ("hr", "lr_x2"),
        "{id}x{scale}",
    )
    assert len(m.digest) == 64 and m.source.endswith("toy.toml")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"extra_top": "colour = 'red'\n"}, r"unknown field\(s\) 'colour'"),
        ({"extra_file": "checksum = 'x'"}, r"\[\[files\]\] #1: unknown field\(s\) 'checksum'"),
        ({"md5": "XYZ"}, "md5 must be 32 lower-case hex digits"),
        ({"count": 2}, "count is 2 but 1 image ids are listed"),
        ({"hr": {"a": ("0" * 64, (4, 4, 2))}}, r"shape must be \[H, W, C\] with C = 1 or 3"),
        (
            {
                "mirrors": '[[mirrors]]\nurl = "https://x/y.tar"\nfilename = "y.tar"\ncontains = ["lr_x2"]\n'
                'lr_dir = "X{scale}"'
            },
            "no sha256/md5; that is allowed only for HR-only mirrors",
        ),
        (
            {
                "mirrors": '[[mirrors]]\nurl = "https://x/y.tar"\nfilename = "y.tar"\ncontains = ["lr_x3"]\n'
                'lr_dir = "X{scale}"\nmd5 = "'
                + "0" * 32
                + '"'
            },
            r"provides lr_x3 but scales are \[2\]",
        ),
        ({"extra_top": "[broken\n"}, "not valid TOML"),
    ],
)
def test_read_manifest_rejects_bad_ones(tmp_path, kwargs, match):
    path = write_manifest(tmp_path / "toy.toml", **kwargs)
    with pytest.raises(DatasetError, match=match):
        read_manifest(path)


def test_read_manifest_rejects_other_schema_versions(tmp_path):
    path = write_manifest(tmp_path / "toy.toml")
    path.write_text(path.read_text().replace("schema = 1", "schema = 2"))
    with pytest.raises(DatasetError, match="schema 2 is not supported"):
        read_manifest(path)


# ---------------------------------------------------------------------------------------------------------
# fetch, against a local server


@pytest.fixture
def http_dir(tmp_path) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, served folder, log of requested paths) of a plain static server on 127.0.0.1."""
    served = tmp_path / "served"
    served.mkdir()
    log: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            log.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served, log
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr(dl, "_BACKOFF_S", 0.0)


def toy_images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "a": rng.integers(0, 256, (20, 24, 3), dtype=np.uint8),
        "b": rng.integers(0, 256, (17, 21, 3), dtype=np.uint8),  # odd: LR x2 is 8x10 (modcrop)
        "g": rng.integers(0, 256, (16, 16, 1), dtype=np.uint8),  # grayscale stays 1-channel
    }


def png_bytes(img: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img).save(buf, format=fmt)
    return buf.getvalue()


def toy_tar(path: Path, images: dict[str, np.ndarray], *, lr_size_off: int = 0) -> Path:
    members = {}
    for k, img in images.items():
        members[f"pkg/Toy/HR/{k}.png"] = png_bytes(img)
        h, w = img.shape[0] // 2, img.shape[1] // 2 + lr_size_off
        members[f"pkg/Toy/LR_bicubic/X2/{k}x2.png"] = png_bytes(
            np.ascontiguousarray(np.resize(img, (h, w, img.shape[2])))
        )
    members["pkg/Other/HR/z.png"] = png_bytes(images["a"])
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path


def pins(images: dict[str, np.ndarray]) -> dict:
    return {k: (pixel_sha256(v), v.shape) for k, v in images.items()}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def leftovers(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.name.startswith((".staging", ".x.")) or p.suffix == ".part"
    )


def test_fetch_end_to_end_with_official_lr_then_instant(http_dir, tmp_path):
    url, served, log = http_dir
    images = toy_images()
    archive = toy_tar(served / "pkg.tar.gz", images)
    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=url, md5=md5(archive), hr=pins(images)))
    root = tmp_path / "data"

    out = fetch(m, root=root, official_lr=True, progress=False)
    assert out == root / "Toy"
    assert sorted(p.name for p in (out / "HR").iterdir()) == ["a.png", "b.png", "g.png"]
    assert sorted(p.name for p in (out / "LR_bicubic/X2").iterdir()) == ["ax2.png", "bx2.png", "gx2.png"]
    for k, img in images.items():
        assert np.array_equal(read_image(out / "HR" / f"{k}.png"), img)
    assert read_image(out / "LR_bicubic/X2/bx2.png").shape == (8, 10, 3)
    stamp = json.loads((out / ".verified").read_text())
    assert stamp["parts"] == ["hr", "lr_x2"] and stamp["digest"] == m.digest
    assert not (root / "Other").exists() and leftovers(root) == []
    assert list((root / ".downloads").iterdir()) == []  # not shared with another manifest: deleted
    assert log == ["/pkg.tar.gz"]

    assert fetch(m, root=root, official_lr=True, progress=False) == out
    assert log == ["/pkg.tar.gz"]  # the stamp makes it instant


def test_fetch_hr_first_then_official_lr_adds_only_lr(http_dir, tmp_path):
    url, served, log = http_dir
    images = toy_images()
    archive = toy_tar(served / "pkg.tar.gz", images)
    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=url, md5=md5(archive), hr=pins(images)))
    out = fetch(m, root=tmp_path, progress=False)
    assert (out / "HR").is_dir() and not (out / "LR_bicubic").exists()
    inode = (out / "HR/a.png").stat().st_ino
    fetch(m, root=tmp_path, official_lr=True, progress=False)
    assert sorted(p.name for p in (out / "LR_bicubic/X2").iterdir()) == ["ax2.png", "bx2.png", "gx2.png"]
    assert (out / "HR/a.png").stat().st_ino == inode and len(log) == 2


def test_fetch_falls_back_to_an_unpinned_mirror_matched_by_pixel_hash(http_dir, tmp_path):
    url, served, log = http_dir
    images = toy_images()
    mirror = served / "Toy_HR.zip"
    with zipfile.ZipFile(mirror, "w") as zf:  # other layout, other names, one re-encoded, one decoy
        zf.writestr("Toy_HR/img_1.png", png_bytes(images["a"]))
        zf.writestr("Toy_HR/img_2.bmp", png_bytes(images["b"], "BMP"))
        zf.writestr("Toy_HR/sub/img_3.png", png_bytes(images["g"]))
        zf.writestr("Toy_HR/decoy.png", png_bytes(images["a"][::-1].copy()))
    mirrors = (
        f'[[mirrors]]\nurl = "{url}/Toy_HR.zip"\nfilename = "Toy_HR.zip"\ncontains = ["hr"]\nhr_dir = "*"\n'
    )
    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=url, hr=pins(images), mirrors=mirrors))
    out = fetch(m, root=tmp_path / "data", progress=False)
    assert sorted(p.name for p in (out / "HR").iterdir()) == ["a.png", "b.bmp", "g.png"]
    assert verify_hr(m, out) == []
    assert json.loads((out / ".verified").read_text())["sources"] == {"hr": f"{url}/Toy_HR.zip"}
    assert log == ["/pkg.tar.gz", "/Toy_HR.zip"]  # the primary 404s first
    assert list((tmp_path / "data/.downloads").iterdir()) == []  # unpinned archives are never kept


def test_fetch_rejects_a_corrupt_archive_and_leaves_nothing(http_dir, tmp_path):
    url, served, _ = http_dir
    images = toy_images()
    toy_tar(served / "pkg.tar.gz", images)
    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=url, md5="1" * 32, hr=pins(images)))
    root = tmp_path / "data"
    with pytest.raises(
        DatasetError, match=r"cannot fetch the hr images of dataset 'toy'.*md5: expected 1{32}"
    ):
        fetch(m, root=root, progress=False)
    assert (
        not (root / "Toy").exists() and leftovers(root) == [] and list((root / ".downloads").iterdir()) == []
    )


def test_fetch_rejects_wrong_pixels_and_wrong_lr_sizes(http_dir, tmp_path):
    url, served, _ = http_dir
    images = toy_images()
    archive = toy_tar(served / "pkg.tar.gz", images, lr_size_off=1)
    wrong = pins(images) | {"b": ("f" * 64, (17, 21, 3))}
    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=url, md5=md5(archive), hr=wrong))
    with pytest.raises(DatasetError, match=r"image 'b' \(b.png\): pixels differ"):
        fetch(m, root=tmp_path / "d1", progress=False)
    assert not (tmp_path / "d1/Toy").exists() and leftovers(tmp_path / "d1") == []

    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=url, md5=md5(archive), hr=pins(images)))
    with pytest.raises(DatasetError, match=r"x2: ax2.png is 13x10, expected 12x10 \(HR // 2\)"):
        fetch(m, root=tmp_path / "d2", official_lr=True, progress=False)
    assert (tmp_path / "d2/Toy/HR").is_dir() and not (tmp_path / "d2/Toy/LR_bicubic/X2").exists()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_fetch_offline_says_so_once_then_uses_an_archive_put_there_by_hand(tmp_path):
    images = toy_images()
    url = _closed_port_url()
    mirrors = f'[[mirrors]]\nurl = "{url}/m.zip"\nfilename = "m.zip"\ncontains = ["hr"]\nhr_dir = "*"\n'
    archive = toy_tar(tmp_path / "pkg.tar.gz", images)
    m = read_manifest(
        write_manifest(tmp_path / "toy.toml", url=url, md5=md5(archive), hr=pins(images), mirrors=mirrors)
    )
    with pytest.raises(DatasetError) as err:
        fetch(m, root=tmp_path / "data", progress=False)
    msg = str(err.value)
    assert msg.count("seems to be offline") == 1 and msg.count("connection refused") == 2
    assert "SRBENCH_DATA_DIR" in msg and str(tmp_path / "data/.downloads/pkg.tar.gz") in msg
    assert not (tmp_path / "data").exists()  # nothing created

    (tmp_path / "data/.downloads").mkdir(parents=True)
    shutil.copy(archive, tmp_path / "data/.downloads/pkg.tar.gz")
    out = fetch(m, root=tmp_path / "data", progress=False)
    assert verify_hr(m, out) == []


def test_fetch_verifies_a_folder_copied_by_hand_and_never_overwrites_it(tmp_path):
    images = toy_images()
    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=_closed_port_url(), hr=pins(images)))
    hr = tmp_path / "data/Toy/HR"
    hr.mkdir(parents=True)
    for k, img in images.items():
        (hr / f"{k}.png").write_bytes(png_bytes(img))
    assert fetch(m, root=tmp_path / "data", progress=False) == tmp_path / "data/Toy"  # no network needed
    assert json.loads((tmp_path / "data/Toy/.verified").read_text())["sources"] == {"hr": "existing folder"}

    # a changed manifest invalidates the stamp: the folder is verified again, and now fails
    (hr / "g.png").write_bytes(png_bytes(images["a"]))
    m2 = read_manifest(
        write_manifest(tmp_path / "toy.toml", url=_closed_port_url(), hr=pins(images), extra_top="# v2\n")
    )
    assert m2.digest != m.digest
    with pytest.raises(DatasetError, match=r"exists but does not match.*image 'g'.*Move it away"):
        fetch(m2, root=tmp_path / "data", progress=False)
    assert (hr / "g.png").read_bytes() == png_bytes(images["a"])  # untouched


def test_fetch_div2k_like_zips_with_sha256_and_id_range(http_dir, tmp_path):
    url, served, log = http_dir
    rng = np.random.default_rng(3)
    hr = {f"{i:04d}": rng.integers(0, 256, (12, 18, 3), dtype=np.uint8) for i in (801, 802, 803)}
    with zipfile.ZipFile(served / "T_HR.zip", "w") as zf:
        for k, img in hr.items():
            zf.writestr(f"T_HR/{k}.png", png_bytes(img))
    with zipfile.ZipFile(served / "T_LR_X3.zip", "w") as zf:
        for k, img in hr.items():
            zf.writestr(f"T_LR_bicubic/X3/{k}x3.png", png_bytes(img[::3, ::3].copy()))

    def entry(fn: str, contains: str, layout: str) -> str:
        data = (served / fn).read_bytes()
        return (
            f'[[files]]\nurl = "{url}/{fn}"\nfilename = "{fn}"\nbytes = {len(data)}\n'
            f'sha256 = "{hashlib.sha256(data).hexdigest()}"\ncontains = ["{contains}"]\n{layout}\n'
        )

    text = (
        'schema = 1\nname = "tiny-div"\nfolder = "TINY_valid"\ntitle = "t"\nkind = "train"\nscales = [3]\n'
        'description = "d"\ncitation = "c"\nlicence = "l"\nlr = "r"\n'
        + entry("T_HR.zip", "hr", 'hr_dir = "T_HR"')
        + entry("T_LR_X3.zip", "lr_x3", 'lr_dir = "T_LR_bicubic/X{scale}"')
        + '[images]\ncount = 3\nids_format = "04d"\nids_first = 801\nids_last = 803\n'
    )
    (tmp_path / "t.toml").write_text(text)
    m = read_manifest(tmp_path / "t.toml")
    assert m.ids == ("0801", "0802", "0803")
    out = fetch(m, root=tmp_path / "data", official_lr=True, progress=False)
    assert sorted(p.name for p in (out / "LR_bicubic/X3").iterdir()) == [
        "0801x3.png",
        "0802x3.png",
        "0803x3.png",
    ]
    assert verify_hr(m, out) == [] and log == ["/T_HR.zip", "/T_LR_X3.zip"]


def test_fetch_unknown_name_and_missing_official_lr(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset 'set6'"):
        fetch("set6", root=tmp_path)
    text = write_manifest(tmp_path / "toy.toml").read_text()
    text = text.replace('contains = ["hr", "lr_x2"]', 'contains = ["hr"]')
    (tmp_path / "toy.toml").write_text(text)
    with pytest.raises(DatasetError, match="has no official LR"):
        fetch(read_manifest(tmp_path / "toy.toml"), root=tmp_path, official_lr=True)


def test_benchmark_tar_is_kept_for_the_other_sets():
    m = load_manifest("set5")
    assert fetch_module._shared_elsewhere(m, m.files[0])
    assert not fetch_module._shared_elsewhere(load_manifest("div2k-valid"), load_manifest("div2k-valid").files[0])


def test_fetch_keeps_lr_put_there_by_hand_and_checks_it_against_the_downloaded_hr(http_dir, tmp_path):
    url, served, log = http_dir
    images = toy_images()
    archive = toy_tar(served / "pkg.tar.gz", images)
    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=url, md5=md5(archive), hr=pins(images)))
    lr = tmp_path / "data/Toy/LR_bicubic/X2"
    lr.mkdir(parents=True)
    for k, img in images.items():
        (lr / f"{k}x2.png").write_bytes(png_bytes(img[: img.shape[0] // 2, : img.shape[1] // 2].copy()))
    out = fetch(m, root=tmp_path / "data", official_lr=True, progress=False)
    stamp = json.loads((out / ".verified").read_text())
    assert stamp["sources"] == {"hr": f"{url}/pkg.tar.gz", "lr_x2": "existing folder"} and log == [
        "/pkg.tar.gz"
    ]

    (lr / "gx2.png").unlink()
    (out / ".verified").unlink()
    with pytest.raises(DatasetError, match=r"X2 exists but does not match.*missing LR image for 'g'"):
        fetch(m, root=tmp_path / "data", official_lr=True, progress=False)


def test_a_wrong_archive_put_there_by_hand_is_kept_aside_and_the_message_says_so(tmp_path):
    """Issue 14.10: the offline message says to put the archive in the downloads folder, and a wrong one
    put there was deleted without a word."""
    images = toy_images()
    url = _closed_port_url()
    archive = toy_tar(tmp_path / "pkg.tar.gz", images)
    m = read_manifest(write_manifest(tmp_path / "toy.toml", url=url, md5=md5(archive), hr=pins(images)))
    downloads = tmp_path / "data/.downloads"
    downloads.mkdir(parents=True)
    (downloads / "pkg.tar.gz").write_bytes(b"some other file")
    with pytest.raises(DatasetError) as err:
        fetch(m, root=tmp_path / "data", progress=False)
    bad = downloads / "pkg.tar.gz.bad"
    assert bad.read_bytes() == b"some other file"
    assert "seems to be offline" in str(err.value) and f"kept aside as {bad}" in str(err.value)

    # an unpinned mirror archive (only pixel hashes can verify it) that fails: kept aside too
    mirrors = f'[[mirrors]]\nurl = "{url}/m.tar.gz"\nfilename = "m.tar.gz"\ncontains = ["hr"]\nhr_dir = "*"\n'
    m2 = read_manifest(write_manifest(tmp_path / "toy2.toml", url=url, hr=pins(images), mirrors=mirrors))
    (downloads / "m.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(DatasetError) as err:
        fetch(m2, root=tmp_path / "data", progress=False)
    assert (downloads / "m.tar.gz.bad").read_bytes() == b"not a tar"
    assert f"kept aside as {downloads / 'm.tar.gz.bad'}" in str(err.value)


def test_fetch_an_unpinned_lr_archive_checks_it_against_the_hr(http_dir, tmp_path):
    """The DIV2K x8 case: an LR-only archive without a hash is installed only if its images fit the HR,
    and is not kept (a later fetch could not tell the same bytes from others)."""
    url, served, log = http_dir
    rng = np.random.default_rng(8)
    hr = {f"{i:04d}": rng.integers(0, 256, (16, 24, 3), dtype=np.uint8) for i in (1, 2)}
    with zipfile.ZipFile(served / "T_HR.zip", "w") as zf:
        for k, img in hr.items():
            zf.writestr(f"T_HR/{k}.png", png_bytes(img))

    def lr_zip(name: str, side: int) -> None:
        with zipfile.ZipFile(served / name, "w") as zf:
            for k, img in hr.items():
                zf.writestr(f"T_LR_x8/{k}x8.png", png_bytes(img[:side, : 3 * side // 2].copy()))

    lr_zip("T_LR_x8.zip", 2)  # 16x24 // 8 = 2x3: fits
    lr_zip("T_bad_x8.zip", 4)  # 4x6: does not
    data = (served / "T_HR.zip").read_bytes()

    def manifest(lr_name: str) -> Path:
        text = (
            'schema = 1\nname = "tiny8"\nfolder = "TINY8"\ntitle = "t"\nkind = "train"\nscales = [8]\n'
            'description = "d"\ncitation = "c"\nlicence = "l"\nlr = "r"\n'
            f'[[files]]\nurl = "{url}/T_HR.zip"\nfilename = "T_HR.zip"\nbytes = {len(data)}\n'
            f'sha256 = "{hashlib.sha256(data).hexdigest()}"\ncontains = ["hr"]\nhr_dir = "T_HR"\n'
            f'[[files]]\nurl = "{url}/{lr_name}"\nfilename = "{lr_name}"\ncontains = ["lr_x8"]\n'
            'lr_dir = "T_LR_x{scale}"\nnote = "no hash known"\n'
            '[images]\ncount = 2\nids_format = "04d"\nids_first = 1\nids_last = 2\n'
        )
        path = tmp_path / f"{lr_name}.toml"
        path.write_text(text)
        return path

    with pytest.raises(DatasetError, match=r"lr_x8 images fail verification.*0001x8.png is 6x4, expected 3x2"):
        fetch(read_manifest(manifest("T_bad_x8.zip")), root=tmp_path / "bad", official_lr=True, progress=False)
    out = fetch(read_manifest(manifest("T_LR_x8.zip")), root=tmp_path / "data", official_lr=True, progress=False)
    assert sorted(p.name for p in (out / "LR_bicubic/X8").iterdir()) == ["0001x8.png", "0002x8.png"]
    assert not (tmp_path / "data" / ".downloads" / "T_LR_x8.zip").exists()
