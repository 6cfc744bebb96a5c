"""download() and extract() against a local HTTP server and archives made here (no internet)."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from srbench.data import download as dl
from srbench.data.download import download, extract
from srbench.interfaces import DatasetError

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes, position-dependent so a misplaced resume shows


@dataclass
class ServerState:
    """What the test server serves and how it misbehaves; ``log`` records (path, Range header, status)."""

    files: dict[str, bytes] = field(default_factory=dict)
    range_support: bool = True
    drops: list[int] = field(default_factory=list)  # per request: send this many body bytes, then cut
    status: list[int] = field(default_factory=list)  # per request: answer with this error status
    log: list[tuple[str, str | None, int]] = field(default_factory=list)
    sent: int = 0  # body bytes sent in total


class _Handler(http.server.BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        st = self.state
        rng = self.headers.get("Range")
        if st.status:
            code = st.status.pop(0)
            st.log.append((self.path, rng, code))
            self.send_error(code)
            return
        body = st.files.get(self.path)
        if body is None:
            st.log.append((self.path, rng, 404))
            self.send_error(404)
            return
        start, code = 0, 200
        if rng and st.range_support:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                st.log.append((self.path, rng, 416))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            code = 206
        st.log.append((self.path, rng, code))
        chunk = body[start:]
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(chunk)))
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if st.drops:
            n = st.drops.pop(0)
            self.wfile.write(chunk[:n])
            self.wfile.flush()
            st.sent += n
            self.connection.shutdown(socket.SHUT_RDWR)  # cut the transfer mid-body
            self.close_connection = True
            return
        self.wfile.write(chunk)
        st.sent += len(chunk)


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    """(base URL, state) of an HTTP server on 127.0.0.1 with an ephemeral port, in a thread."""
    state = ServerState()
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "_BACKOFF_S", 0.0)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# download


def test_good_download_verifies_and_leaves_no_part(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    dest = tmp_path / "dl" / "a.bin"
    out = download(
        f"{url}/a.bin",
        dest,
        sha256=sha(PAYLOAD),
        md5=hashlib.md5(PAYLOAD).hexdigest(),
        size=len(PAYLOAD),
        progress=True,
    )
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert not dest.with_name("a.bin.part").exists()
    # a verified file in place is not downloaded again
    download(f"{url}/a.bin", dest, sha256=sha(PAYLOAD), progress=False)
    assert len(st.log) == 1


def test_hash_mismatch_deletes_file_and_names_url_expected_got(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    dest = tmp_path / "a.bin"
    wrong = "0" * 64
    with pytest.raises(DatasetError) as err:
        download(f"{url}/a.bin", dest, sha256=wrong, progress=False)
    msg = str(err.value)
    assert f"{url}/a.bin" in msg and wrong in msg and sha(PAYLOAD) in msg
    assert list(tmp_path.iterdir()) == []


def test_md5_mismatch_is_detected_too(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    with pytest.raises(DatasetError, match="md5: expected 0{32}, got"):
        download(f"{url}/a.bin", tmp_path / "a.bin", md5="0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_announced_size_mismatch_fails_before_downloading(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    with pytest.raises(
        DatasetError, match=f"expected {len(PAYLOAD) + 1} bytes, the server announces {len(PAYLOAD)}"
    ):
        download(f"{url}/a.bin", tmp_path / "a.bin", size=len(PAYLOAD) + 1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_truncated_transfer_resumes_with_range(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    st.drops = [30000]
    dest = tmp_path / "a.bin"
    download(f"{url}/a.bin", dest, sha256=sha(PAYLOAD), size=len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    (_, r1, c1), (_, r2, c2) = st.log
    assert (r1, c1) == (None, 200)
    assert r2 is not None and c2 == 206
    resumed_at = int(r2.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 30000
    assert st.sent == 30000 + len(PAYLOAD) - resumed_at  # nothing fetched twice


def test_resume_of_a_part_left_by_an_earlier_run(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    dest = tmp_path / "a.bin"
    dest.with_name("a.bin.part").write_bytes(PAYLOAD[:5000])
    download(f"{url}/a.bin", dest, sha256=sha(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert st.log == [("/a.bin", "bytes=5000-", 206)]


def test_complete_part_file_gets_416_and_verifies(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    dest = tmp_path / "a.bin"
    dest.with_name("a.bin.part").write_bytes(PAYLOAD)
    download(f"{url}/a.bin", dest, sha256=sha(PAYLOAD), progress=False)  # size unknown: must ask the server
    assert dest.read_bytes() == PAYLOAD and [c for *_, c in st.log] == [416]


def test_server_without_range_support_restarts(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    st.range_support = False
    st.drops = [20000]
    dest = tmp_path / "a.bin"
    download(f"{url}/a.bin", dest, sha256=sha(PAYLOAD), size=len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert st.log[1][1] is not None and st.log[1][2] == 200  # asked for a range, got the whole file


def test_stale_junk_part_without_range_support_is_overwritten(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    st.range_support = False
    dest = tmp_path / "a.bin"
    dest.with_name("a.bin.part").write_bytes(b"junk" * 100)
    download(f"{url}/a.bin", dest, sha256=sha(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_http_5xx_is_retried_then_reported(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    st.status = [503, 503]
    download(f"{url}/a.bin", tmp_path / "a.bin", sha256=sha(PAYLOAD), retries=2, progress=False)
    assert [c for *_, c in st.log] == [503, 503, 200]

    st.status = [500] * 10
    with pytest.raises(DatasetError, match=r"failed after 3 attempts without progress \(HTTP 500"):
        download(f"{url}/a.bin", tmp_path / "b.bin", retries=2, progress=False)
    assert len(st.log) == 3 + 3


def test_repeated_drops_without_progress_give_up_and_keep_part(server, tmp_path):
    url, st = server
    st.files["/a.bin"] = PAYLOAD
    st.drops = [1000, 0, 0, 0]
    dest = tmp_path / "a.bin"
    with pytest.raises(DatasetError, match="run again to resume"):
        download(f"{url}/a.bin", dest, size=len(PAYLOAD), retries=2, progress=False)
    part = dest.with_name("a.bin.part")
    assert 0 < part.stat().st_size <= 1000 and not dest.exists()
    download(f"{url}/a.bin", dest, sha256=sha(PAYLOAD), progress=False)  # the next run resumes
    assert dest.read_bytes() == PAYLOAD and st.log[-1][2] == 206


def test_http_404_is_not_retried(server, tmp_path):
    url, st = server
    with pytest.raises(DatasetError, match="HTTP 404"):
        download(f"{url}/missing.bin", tmp_path / "m.bin", progress=False)
    assert len(st.log) == 1 and list(tmp_path.iterdir()) == []


def test_offline_closed_port_says_offline_and_how_to_use_a_local_copy(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dest = tmp_path / "a.bin"
    with pytest.raises(DatasetError) as err:
        download(f"http://127.0.0.1:{port}/a.bin", dest, retries=1, timeout=5, progress=False)
    msg = str(err.value)
    assert isinstance(err.value, dl.OfflineError) and err.value.reason == "connection refused"
    assert "offline" in msg and "connection refused" in msg
    assert "--data-dir" in msg and "SRBENCH_DATA_DIR" in msg and "Set5/HR" in msg and str(dest) in msg
    assert list(tmp_path.iterdir()) == []


def test_file_put_in_place_by_hand_is_used_without_network(tmp_path):
    dest = tmp_path / "a.bin"
    dest.write_bytes(PAYLOAD)
    assert download("http://127.0.0.1:9/a.bin", dest, sha256=sha(PAYLOAD), size=len(PAYLOAD)) == dest


def test_non_http_url_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="only http and https"):
        download("file:///etc/passwd", tmp_path / "x")


# ---------------------------------------------------------------------------------------------------------
# extract

FILES = {"pkg/Set5/HR/a.png": b"A" * 100, "pkg/Set5/HR/b.png": b"B" * 50, "pkg/Set14/HR/c.png": b"C" * 10}


def make_tar(
    path: Path, files: dict[str, bytes], mode: str = "w:gz", extra: list[tarfile.TarInfo] | None = None
) -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        for ti in extra or []:
            tf.addfile(ti)
    return path


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_extract_tar_any_compression(tmp_path, mode):
    archive = make_tar(tmp_path / "a.tar", FILES, mode)
    out = extract(archive, tmp_path / "out")
    assert out == tmp_path / "out" and tree(out) == FILES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar", "out"]  # no temp folder left


def test_extract_zip(tmp_path):
    archive = make_zip(tmp_path / "a.zip", FILES)
    assert tree(extract(archive, tmp_path / "out")) == FILES


@pytest.mark.parametrize("maker", [make_tar, make_zip])
def test_extract_include_takes_only_the_named_folders(tmp_path, maker):
    archive = maker(tmp_path / "a.bin", {("./" + k if maker is make_tar else k): v for k, v in FILES.items()})
    out = extract(archive, tmp_path / "out", include=["pkg/Set5/HR/"])
    assert tree(out) == {k: v for k, v in FILES.items() if k.startswith("pkg/Set5/")}
    with pytest.raises(DatasetError, match="nothing under pkg/Urban100"):
        extract(archive, tmp_path / "out2", include=["pkg/Urban100"])
    assert not (tmp_path / "out2").exists()


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = tarfile.SYMTYPE, target
    return ti


def _hardlink(name: str, target: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = tarfile.LNKTYPE, target
    return ti


def _device(name: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
    return ti


MALICIOUS_TAR = {
    "absolute path": ({"/tmp/srbench-evil-abs": b"x"}, [], "absolute path"),
    "dot-dot": ({"pkg/../../evil": b"x"}, [], "'..'"),
    "symlink escaping (absolute)": ({}, [_symlink("pkg/link", "/etc/passwd")], "symbolic link"),
    "symlink escaping (relative)": ({}, [_symlink("pkg/link", "../../evil")], "symbolic link"),
    "hard link escaping": ({}, [_hardlink("pkg/link", "../evil")], "link"),
    "device": ({}, [_device("pkg/null")], "device"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS_TAR))
def test_malicious_tar_is_rejected_and_nothing_is_written(tmp_path, case):
    files, extra, why = MALICIOUS_TAR[case]
    work = tmp_path / "work"
    work.mkdir()
    archive = make_tar(work / "evil.tar", {"pkg/ok.png": b"fine", **files}, "w", extra)
    with pytest.raises(DatasetError, match="unsafe") as err:
        extract(archive, work / "out")
    assert why in str(err.value)
    assert sorted(p.name for p in work.iterdir()) == ["evil.tar"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert not Path("/tmp/srbench-evil-abs").exists()


def test_symlink_inside_the_archive_is_allowed(tmp_path):
    archive = make_tar(tmp_path / "a.tar", {"pkg/a.png": b"A"}, "w", [_symlink("pkg/b.png", "a.png")])
    out = extract(archive, tmp_path / "out")
    assert (out / "pkg/b.png").read_bytes() == b"A"


def _zip_symlink(zf: zipfile.ZipFile, name: str, target: str) -> None:
    zi = zipfile.ZipInfo(name)
    zi.external_attr = 0o120777 << 16
    zf.writestr(zi, target)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/tmp/srbench-evil-abs", "absolute path"),
        ("pkg/../../evil", "'..'"),
        ("..\\evil", "'..'"),
        ("C:/evil", "absolute path"),
        ("pkg/link", "symbolic link"),
    ],
)
def test_malicious_zip_is_rejected_and_nothing_is_written(tmp_path, name, why):
    work = tmp_path / "work"
    work.mkdir()
    with zipfile.ZipFile(work / "evil.zip", "w") as zf:
        zf.writestr("pkg/ok.png", b"fine")
        if name == "pkg/link":
            _zip_symlink(zf, name, "../../etc/passwd")
        else:
            zf.writestr(zipfile.ZipInfo(name), b"x")  # ZipInfo keeps the name as given
    with pytest.raises(DatasetError, match="unsafe") as err:
        extract(work / "evil.zip", work / "out")
    assert why in str(err.value)
    assert sorted(p.name for p in work.iterdir()) == ["evil.zip"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_failure_midway_leaves_nothing_half_written(tmp_path):
    files = {"pkg/a.png": os.urandom(4000), "pkg/b.png": os.urandom(4000)}
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for k, v in files.items():
            zf.writestr(k, v)
    data = bytearray(archive.read_bytes())
    at = data.find(files["pkg/b.png"][:64])
    data[at + 100] ^= 0xFF  # corrupt the second member: its CRC check fails after the first is written
    archive.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="cannot extract"):
        extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_truncated_tar_gz_fails_cleanly(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", {"pkg/a.png": os.urandom(50000)})
    archive.write_bytes(archive.read_bytes()[:30000])
    with pytest.raises(DatasetError, match="cannot extract"):
        extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz"]


def test_extract_refuses_existing_destination_and_non_archives(tmp_path):
    archive = make_zip(tmp_path / "a.zip", FILES)
    (tmp_path / "out").mkdir()
    with pytest.raises(DatasetError, match="already exists"):
        extract(archive, tmp_path / "out")
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(DatasetError, match="not a tar or zip"):
        extract(tmp_path / "plain.txt", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_a_wrong_file_put_in_place_is_kept_aside_and_the_offline_message_says_so(tmp_path, caplog):
    """Issue 14.10: the wrong archive was deleted silently while the offline message said to put it there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dest = tmp_path / "a.bin"
    dest.write_bytes(b"not the archive")
    with caplog.at_level("WARNING", logger="srbench.data"), pytest.raises(dl.OfflineError) as err:
        download(f"http://127.0.0.1:{port}/a.bin", dest, sha256=sha(PAYLOAD), retries=1, timeout=5, progress=False)
    bad = tmp_path / "a.bin.bad"
    assert bad.read_bytes() == b"not the archive" and not dest.exists()
    msg = str(err.value)
    assert f"kept aside as {bad}" in msg and "sha256: expected" in msg and f"put it at {dest}" in msg
    assert f"kept aside as {bad}" in caplog.text


# ----------------------------------------------- issue 23 item 11: extraction caps and free space


@pytest.mark.parametrize("maker", [make_tar, make_zip])
def test_an_archive_bomb_is_refused_before_anything_is_written(tmp_path, maker, monkeypatch):
    """A small compressed archive whose members expand past the cap (declared sizes, checked before
    extraction): one error naming the archive, nothing written."""
    archive = maker(tmp_path / "bomb.bin", {"pkg/zeros.bin": bytes(3 * 2**20), "pkg/a.png": b"A"})
    assert archive.stat().st_size < 64 * 1024
    with pytest.raises(DatasetError, match=r"bomb\.bin.*3\.0 MiB.*limit of 1\.0 MiB"):
        extract(archive, tmp_path / "out", max_bytes=2**20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.bin"]
    monkeypatch.setenv("SRBENCH_EXTRACT_MAX_BYTES", str(2**20))  # the default, configured
    with pytest.raises(DatasetError, match="SRBENCH_EXTRACT_MAX_BYTES"):
        extract(archive, tmp_path / "out")
    monkeypatch.delenv("SRBENCH_EXTRACT_MAX_BYTES")
    assert tree(extract(archive, tmp_path / "out"))["pkg/a.png"] == b"A"  # under the default cap


@pytest.mark.parametrize("maker", [make_tar, make_zip])
def test_too_many_members_are_refused(tmp_path, maker, monkeypatch):
    archive = maker(tmp_path / "many.bin", {f"pkg/{i}.png": b"x" for i in range(25)})
    with pytest.raises(DatasetError, match=r"many\.bin.*more than 10 members"):
        extract(archive, tmp_path / "out", max_members=10)
    monkeypatch.setenv("SRBENCH_EXTRACT_MAX_MEMBERS", "10")
    with pytest.raises(DatasetError, match="SRBENCH_EXTRACT_MAX_MEMBERS"):
        extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.bin"]
    monkeypatch.setenv("SRBENCH_EXTRACT_MAX_MEMBERS", "25")
    assert len(tree(extract(archive, tmp_path / "out"))) == 25


@pytest.mark.parametrize("maker", [make_tar, make_zip])
def test_extraction_checks_free_space_first(tmp_path, maker, monkeypatch):
    import collections

    archive = maker(tmp_path / "a.bin", FILES)
    usage = collections.namedtuple("usage", "total used free")
    seen = []

    def disk_usage(path):
        seen.append(Path(path))
        return usage(10**9, 10**9 - 100, 100)  # 100 bytes free, the archive needs 160

    monkeypatch.setattr(dl.shutil, "disk_usage", disk_usage)
    with pytest.raises(DatasetError, match=r"a\.bin.*needs 160 B.*100 B free"):
        extract(archive, tmp_path / "out")
    assert seen and seen[0] == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
