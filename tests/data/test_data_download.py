"""Downloads against a local HTTP server (127.0.0.1, ephemeral port): resume, checksums,
safe extraction, and `scenelab data download` end to end. Never touches the internet."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from data_builders import make_miniplaces

from scenelab.cli import main
from scenelab.data import build_dataset, download
from scenelab.data.download import check_checksum, fetch, safe_extract
from scenelab.errors import ScenelabError


class RangeHandler(BaseHTTPRequestHandler):
    """Serves `server.files`; honours `Range: bytes=N-` unless `server.ignore_range`;
    sends only `server.cut_after` bytes of a body when that is set."""

    def do_GET(self):
        server = self.server
        server.range_headers.append(self.headers.get("Range"))
        data = server.files.get(self.path.lstrip("/"))
        if data is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range") and not server.ignore_range:
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if server.cut_after is None else body[: server.cut_after])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.files, httpd.range_headers, httpd.ignore_range, httpd.cut_after = {}, [], False, None
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


PAYLOAD = bytes(range(256)) * 1000


def test_fetch_downloads_whole_file(server, tmp_path):
    server.files["blob"] = PAYLOAD
    assert fetch(f"{server.url}/blob", tmp_path / "blob", progress=False).read_bytes() == PAYLOAD
    assert server.range_headers == [None]
    assert not (tmp_path / "blob.part").exists()


def test_fetch_resumes_a_partial_download_with_a_range_request(server, tmp_path):
    server.files["blob"] = PAYLOAD
    (tmp_path / "blob.part").write_bytes(PAYLOAD[:100_000])
    fetch(f"{server.url}/blob", tmp_path / "blob", progress=False)
    assert server.range_headers == ["bytes=100000-"]
    assert (tmp_path / "blob").read_bytes() == PAYLOAD


def test_fetch_restarts_when_the_server_ignores_the_range(server, tmp_path):
    server.files["blob"], server.ignore_range = PAYLOAD, True
    (tmp_path / "blob.part").write_bytes(b"stale bytes")
    fetch(f"{server.url}/blob", tmp_path / "blob", progress=False)
    assert (tmp_path / "blob").read_bytes() == PAYLOAD


def test_a_broken_transfer_is_resumed_by_the_next_call(server, tmp_path):
    server.files["blob"], server.cut_after = PAYLOAD, 70_000
    with pytest.raises(ScenelabError, match=f"stopped at 70000 of {len(PAYLOAD)} bytes"):
        fetch(f"{server.url}/blob", tmp_path / "blob", progress=False)
    assert (tmp_path / "blob.part").stat().st_size == 70_000
    server.cut_after = None
    fetch(f"{server.url}/blob", tmp_path / "blob", progress=False)
    assert server.range_headers[-1] == "bytes=70000-"
    assert (tmp_path / "blob").read_bytes() == PAYLOAD


def test_a_complete_partial_file_is_finished_on_416(server, tmp_path):
    server.files["blob"] = PAYLOAD
    (tmp_path / "blob.part").write_bytes(PAYLOAD)
    fetch(f"{server.url}/blob", tmp_path / "blob", progress=False)
    assert (tmp_path / "blob").read_bytes() == PAYLOAD


def test_http_errors_are_clean(server, tmp_path):
    with pytest.raises(ScenelabError, match="HTTP 404"):
        fetch(f"{server.url}/absent", tmp_path / "absent", progress=False)


def test_checksums(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(PAYLOAD)
    check_checksum(path, "md5:" + hashlib.md5(PAYLOAD).hexdigest())
    check_checksum(path, "sha256:" + hashlib.sha256(PAYLOAD).hexdigest().upper())
    with pytest.raises(ScenelabError, match=r"sha256 is [0-9a-f]{64}, expected 00"):
        check_checksum(path, "sha256:00")
    with pytest.raises(ScenelabError, match="expected md5:HEX"):
        check_checksum(path, "crc32:1234")


def tar_with(tmp_path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    path = tmp_path / "archive.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


UNSAFE_MEMBERS = [
    (member("/etc/evil"), "absolute path"),
    (member("images/../../evil"), "'..'"),
    (member("images/up", tarfile.SYMTYPE, "../../outside"), "outside the destination"),
    (member("images/abs", tarfile.SYMTYPE, "/etc/passwd"), "outside the destination"),
    (member("images/hard", tarfile.LNKTYPE, "../outside"), "outside the destination"),
    (member("images/tty", tarfile.CHRTYPE), "device"),
    (member("images/pipe", tarfile.FIFOTYPE), "device"),
]


@pytest.mark.parametrize(("bad", "reason"), UNSAFE_MEMBERS)
def test_unsafe_archives_are_refused_before_anything_is_written(tmp_path, bad, reason):
    archive = tar_with(tmp_path, (member("images/ok.txt"), b"fine"), (bad, b""))
    destination = tmp_path / "out"
    with pytest.raises(ScenelabError, match=f"refusing {bad.name!r}: it .*{reason}"):
        safe_extract(archive, destination)
    assert list(destination.iterdir()) == []


def test_absurdly_large_members_are_refused(tmp_path):
    archive = tar_with(tmp_path, (member("images/big.bin"), bytes(1000)))
    with pytest.raises(ScenelabError, match="over the 100-byte limit"):
        safe_extract(archive, tmp_path / "out", max_member_bytes=100)


def test_links_inside_the_destination_are_extracted(tmp_path):
    archive = tar_with(
        tmp_path,
        (member("images/a.txt"), b"data"),
        (member("images/link.txt", tarfile.SYMTYPE, "a.txt"), b""),
        (member("images/hard.txt", tarfile.LNKTYPE, "images/a.txt"), b""),
    )
    safe_extract(archive, tmp_path / "out")
    for name in ("a.txt", "link.txt", "hard.txt"):
        assert (tmp_path / "out" / "images" / name).read_bytes() == b"data"


DOWNLOADED = ["categories.txt", "data.tar.gz", "train.txt", "val.txt"]


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256 (hashlib as the reference)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def serve_archive(server, *members: tuple[str, bytes]) -> list[str]:
    """The mirror serves a data.tar.gz of ``members`` and empty list files; the
    `scenelab data download` arguments that fetch it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members:
            info = member(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    server.files["data.tar.gz"] = buffer.getvalue()
    for name in ("train.txt", "val.txt", "categories.txt"):
        server.files[name] = b""
    return ["--mirror", server.url, "--checksum", "none"]


def users_folder(directory: Path) -> None:
    """DIR with files of the user's: a folder `objects/` (the archive has one too), a
    nested file and a top-level one."""
    (directory / "objects" / "deep").mkdir(parents=True)
    (directory / "objects" / "mine.txt").write_bytes(b"the user's own")
    (directory / "objects" / "deep" / "data.bin").write_bytes(bytes(range(256)))
    (directory / "notes.txt").write_text("keep me")


def test_an_archive_entry_named_like_a_folder_in_dir_keeps_every_file(server, tmp_path, capsys):
    directory = tmp_path / "miniplaces"
    users_folder(directory)
    before = tree_digest(directory)
    flags = serve_archive(server, ("images/train/a.jpg", b"jpeg"), ("objects/a.txt", b"new"))
    assert main(["data", "download", "miniplaces", str(directory), *flags]) == 2
    error = capsys.readouterr().err
    assert f"{directory / 'objects'} already exists" in error
    after = tree_digest(directory)
    assert {name: after[name] for name in before} == before  # every byte of the user's
    assert sorted(set(after) - set(before)) == DOWNLOADED  # nothing extracted, no staging
    assert sorted(path.name for path in directory.iterdir()) == sorted(
        [*DOWNLOADED, "notes.txt", "objects"]
    )


def test_extraction_beside_the_users_files_keeps_them(server, tmp_path):
    directory = tmp_path / "miniplaces"
    users_folder(directory)
    before = tree_digest(directory)
    flags = serve_archive(server, ("images/train/a.jpg", b"jpeg"), ("extra/a.txt", b"new"))
    assert main(["data", "download", "miniplaces", str(directory), *flags]) == 0
    after = tree_digest(directory)
    assert {name: after[name] for name in before} == before
    assert sorted(set(after) - set(before)) == sorted(
        [*DOWNLOADED, "extra/a.txt", "images/train/a.jpg"]
    )


def test_a_refused_archive_leaves_no_staging_folder(server, tmp_path, capsys):
    directory = tmp_path / "miniplaces"
    flags = serve_archive(server, ("images/a.jpg", b"jpeg"), ("/etc/evil", b""))
    assert main(["data", "download", "miniplaces", str(directory), *flags]) == 2
    assert "absolute path" in capsys.readouterr().err
    assert sorted(path.name for path in directory.iterdir()) == DOWNLOADED


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_moving_in_never_replaces_what_appeared_after_the_check(tmp_path, kind):
    """The last line of defence against a path made between the check and the move."""
    staged, target = tmp_path / "staging" / "entry", tmp_path / "entry"
    staged.parent.mkdir()
    if kind == "file":
        staged.write_bytes(b"archive's")
        target.write_bytes(b"user's")
    else:
        (staged / "sub").mkdir(parents=True)
        target.mkdir()
        (target / "mine.txt").write_bytes(b"user's")
    before = tree_digest(tmp_path / "entry") if kind == "folder" else target.read_bytes()
    with pytest.raises(ScenelabError, match="nothing there was replaced"):
        download._move_without_replacing(staged, target)
    after = tree_digest(tmp_path / "entry") if kind == "folder" else target.read_bytes()
    assert after == before


def test_safe_extract_without_the_data_filter_of_older_pythons(tmp_path, monkeypatch):
    """Python before 3.11.4 / 3.10.12 has no tarfile.data_filter and no `filter=`
    argument; the checks of safe_extract run there all the same."""
    real = tarfile.TarFile.extractall
    # On a Python that has filters, the old behaviour is the "fully_trusted" one.
    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}

    def old_extractall(self, path=".", members=None, *, numeric_owner=False, **kwargs):
        if kwargs:
            raise TypeError(
                f"extractall() got an unexpected keyword argument {next(iter(kwargs))!r}"
            )
        return real(self, path, members, numeric_owner=numeric_owner, **trusted)

    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", old_extractall)
    archive = tar_with(tmp_path, (member("images/a.txt"), b"data"))
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "images" / "a.txt").read_bytes() == b"data"
    bad = tar_with(tmp_path, (member("images/../../evil"), b""))
    with pytest.raises(ScenelabError, match=r"'\.\.'"):
        safe_extract(bad, tmp_path / "out2")


def test_download_command_end_to_end(server, tmp_path, capsys):
    source = make_miniplaces(tmp_path / "source")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(source / "images", arcname="images")
    server.files["data.tar.gz"] = buffer.getvalue()
    for name in ("train.txt", "val.txt", "categories.txt"):
        server.files[name] = (source / name).read_bytes()
    sha256 = hashlib.sha256(buffer.getvalue()).hexdigest()
    destination = tmp_path / "miniplaces"
    arguments = ["data", "download", "miniplaces", str(destination), "--mirror", server.url]

    assert main([*arguments, "--checksum", "sha256:" + "0" * 64]) == 2
    assert "sha256 is " + sha256 in capsys.readouterr().err
    assert main([*arguments, "--checksum", "sha256:" + sha256]) == 0
    assert f"sha256 {sha256}" in capsys.readouterr().out
    train = build_dataset(str(destination), "train")
    assert train.labels == build_dataset(str(source), "train").labels
    assert train.classes == ["abbey", "bedroom", "coast"]
    staying = sorted([*DOWNLOADED, "images"])
    assert sorted(path.name for path in destination.iterdir()) == staying  # no staging left

    requests = len(server.range_headers)
    assert main([*arguments, "--checksum", "none"]) == 0  # everything is there already
    assert len(server.range_headers) == requests


# safe_extract run by an interpreter whose tarfile has no `filter` (Debian 12's python3 is
# 3.11.2): download.py loaded by its path, with a stand-in for tqdm, which it does not need
# to extract; prints OK or the error.
WITHOUT_FILTERS = """
import importlib.util, sys, tarfile, types
assert not hasattr(tarfile, "data_filter"), "this Python has extraction filters"
sys.modules["tqdm"] = types.SimpleNamespace(tqdm=None)
sys.path.insert(0, sys.argv[1])
path = sys.argv[1] + "/scenelab/data/download.py"
spec = importlib.util.spec_from_file_location("download", path)
download = sys.modules["download"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(download)
try:
    download.safe_extract(sys.argv[2], sys.argv[3])
    print("OK")
except download.ScenelabError as error:
    print(error)
"""


def pythons_without_filters() -> list[str]:
    """System interpreters (3.8+) whose tarfile lacks the data filter, e.g. /usr/bin/python3."""
    found = []
    for candidate in ("/usr/bin/python3", "/usr/bin/python3.10", "/usr/bin/python3.11"):
        if not os.access(candidate, os.X_OK) or candidate in found:
            continue
        probe = subprocess.run(
            [
                candidate,
                "-c",
                "import sys, tarfile; print(sys.version_info >= (3, 8) and "
                "not hasattr(tarfile, 'data_filter'))",
            ],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == "True":
            found.append(candidate)
    return found


@pytest.mark.parametrize(("bad", "reason"), UNSAFE_MEMBERS)
def test_the_checks_refuse_without_the_data_filter(tmp_path, monkeypatch, bad, reason):
    """The no-`filter` branch (forced here: no tarfile.data_filter, an extractall without
    `filter=`) refuses every unsafe member before anything is written."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", lambda *args, **kwargs: pytest.fail())
    archive = tar_with(tmp_path, (member("images/ok.txt"), b"fine"), (bad, b""))
    with pytest.raises(ScenelabError, match=f"refusing {bad.name!r}: it .*{reason}"):
        safe_extract(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.skipif(not pythons_without_filters(), reason="no Python without tar filters here")
def test_a_python_without_filters_extracts_safely(tmp_path):
    python = pythons_without_filters()[0]
    src = str(Path(download.__file__).resolve().parents[2])

    def extract(archive: Path, name: str) -> str:
        child = subprocess.run(
            [python, "-c", WITHOUT_FILTERS, src, str(archive), str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert child.returncode == 0, child.stderr
        return child.stdout.strip()

    good = tar_with(
        tmp_path,
        (member("images/a.txt"), b"data"),
        (member("images/link.txt", tarfile.SYMTYPE, "a.txt"), b""),
    )
    assert extract(good, "good") == "OK"
    assert (tmp_path / "good" / "images" / "link.txt").read_bytes() == b"data"
    for index, (bad, reason) in enumerate(UNSAFE_MEMBERS):
        archive = tar_with(tmp_path, (member("images/ok.txt"), b"fine"), (bad, b""))
        assert reason in extract(archive, f"bad{index}")
        assert list((tmp_path / f"bad{index}").iterdir()) == []
