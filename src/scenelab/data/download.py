"""Download MiniPlaces: resumable HTTP transfers, checksums and safe tar extraction.

The image archive and list files are those of the CSAILVision/miniplaces development kit.
No checksum is published with them: the archive's MD5 below is the one a third-party
MiniPlaces loader checks against (a course's PyTorch data loader), and we have not been
able to confirm it ourselves. A mismatch therefore stops with both digests and the way
out (`--checksum none`); every download prints the archive's SHA-256 either way.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from scenelab.errors import ScenelabError

log = logging.getLogger(__name__)


CHUNK_BYTES = 1 << 20
MAX_MEMBER_BYTES = 1 << 30  # no MiniPlaces member is near 1 GiB; a bigger one is an attack
MAX_TOTAL_BYTES = 16 << 30  # MiniPlaces unpacks to well under 1 GiB; 16 GiB is a bomb
TIMEOUT_S = 60


@dataclass(frozen=True)
class RemoteFile:
    """A file to fetch: where from, the name it gets in DIR, its `algo:hex` checksum if known."""

    url: str
    name: str
    checksum: str | None = None


DEVKIT = "https://raw.githubusercontent.com/CSAILVision/miniplaces/master/data"
MINIPLACES_ARCHIVE = RemoteFile(
    "http://miniplaces.csail.mit.edu/data/data.tar.gz",
    "data.tar.gz",
    "md5:265825ec94f79390e4f1e38045a69059",
)
MINIPLACES_LISTS = tuple(
    RemoteFile(f"{DEVKIT}/{name}", name) for name in ("train.txt", "val.txt", "categories.txt")
)


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def check_checksum(path: Path, checksum: str) -> None:
    """Raise ScenelabError unless `path` has the `algo:hex` checksum (md5 or sha256)."""
    algorithm, _, expected = checksum.partition(":")
    if algorithm not in ("md5", "sha256") or not expected:
        raise ScenelabError(f"checksum {checksum!r}: expected md5:HEX, sha256:HEX or none")
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ScenelabError(
            f"{path}: {algorithm} is {actual}, expected {expected}. Delete the file to download"
            " it again, or pass --checksum none to accept it as it is"
        )


def fetch(url: str, destination: Path, progress: bool = True) -> Path:
    """Download `url` to `destination`, resuming from `destination.part` when it exists.

    A partial download is continued with an HTTP Range request; a server that ignores the
    range (200 instead of 206) sends the whole file again. A transfer that stops short
    leaves the `.part` file for the next call to resume.
    """
    partial = destination.with_name(destination.name + ".part")
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing after `have`: the part is the whole file
            partial.replace(destination)
            return destination
        raise ScenelabError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ScenelabError(f"cannot download {url}: {getattr(error, 'reason', error)}") from None
    with response:
        resumed = have > 0 and response.status == 206
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        with (
            partial.open("ab" if resumed else "wb") as file,
            tqdm(
                total=total,
                initial=start,
                unit="B",
                unit_scale=True,
                desc=destination.name,
                disable=not progress,
            ) as bar,
        ):
            try:
                while chunk := response.read(CHUNK_BYTES):
                    file.write(chunk)
                    bar.update(len(chunk))
            except OSError as error:
                raise ScenelabError(
                    f"download of {url} broke off ({error}); run the command again to resume"
                ) from None
    size = partial.stat().st_size
    if total is not None and size != total:
        raise ScenelabError(
            f"download of {url} stopped at {size} of {total} bytes; run the command again to resume"
        )
    partial.replace(destination)
    return destination


def _member_problem(member: tarfile.TarInfo, root: Path, max_member_bytes: int) -> str | None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith("\\"):
        return "has an absolute path"
    if ".." in name.parts:
        return "has '..' in its path"
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return "is a device, FIFO or other special file"
    if member.size > max_member_bytes:
        return f"is {member.size} bytes, over the {max_member_bytes}-byte limit"
    if member.issym() or member.islnk():
        base = root / name.parent if member.issym() else root
        target = os.path.realpath(base / member.linkname)
        if os.path.isabs(member.linkname) or os.path.commonpath([target, root]) != str(root):
            return f"links to {member.linkname!r}, outside the destination"
    return None


def safe_extract(
    archive: Path,
    destination: Path,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> None:
    """Extract a tar archive into `destination`, refusing it whole if any member is unsafe.

    Refused: absolute paths, `..`, links (symbolic or hard) that point outside
    `destination`, device files and FIFOs, members over `max_member_bytes`, and archives
    that would unpack to more than `max_total_bytes` (a tar bomb). Every
    member is checked before anything is written; where tarfile has its "data" filter,
    it checks again while extracting.
    """
    root = Path(os.path.realpath(destination))
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                problem = _member_problem(member, root, max_member_bytes)
                if problem is not None:
                    raise ScenelabError(f"{archive}: refusing {member.name!r}: it {problem}")
            total = sum(member.size for member in members if member.isfile())
            if total > max_total_bytes:
                raise ScenelabError(
                    f"{archive}: refusing it: it would unpack to {total} bytes, over the "
                    f"{max_total_bytes}-byte limit"
                )
            if hasattr(tarfile, "data_filter"):  # Python 3.12, 3.11.4, 3.10.12 and later
                tar.extractall(root, members=members, filter="data")
            else:
                tar.extractall(root, members=members)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ScenelabError(f"{archive}: cannot extract ({error})") from None


STAGING_PREFIX = ".scenelab-extracting-"
COMPLETE_ENTRY = "images"  # moved in last: once DIR/images is there, the extraction is whole


def _extract_once(archive: Path, directory: Path) -> None:
    """Extract ``archive`` beside what ``directory`` holds, never over it.

    It unpacks into a fresh staging folder inside DIR (the same file system, so that
    moving is renaming), then moves each top-level entry in, `images` last, so that an
    interrupted extraction never looks finished. If DIR already has any entry of the same
    name, nothing is moved and the command stops naming it: nothing of DIR's is replaced,
    merged into or deleted. The staging folder is removed however this ends.
    """
    if (directory / COMPLETE_ENTRY).is_dir():
        return
    for left in sorted(directory.glob(STAGING_PREFIX + "*")):
        log.warning(f"{left} was left by an interrupted extraction; it can be deleted")
    log.info(f"extracting {archive}")
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))
    try:
        safe_extract(archive, staging)
        entries = sorted(staging.iterdir(), key=lambda entry: entry.name == COMPLETE_ENTRY)
        for entry in entries:
            target = directory / entry.name
            if os.path.lexists(target):
                raise ScenelabError(
                    f"{archive}: not extracted, as {target} already exists and the archive "
                    f"has an entry {entry.name!r}; move it away or download into another "
                    f"folder (nothing already in {directory} was changed)"
                )
        for entry in entries:
            _move_without_replacing(entry, directory / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_without_replacing(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``, failing where ``target`` exists: a folder renamed
    onto a non-empty one fails; a file is hard-linked (which never replaces) and unlinked,
    or, where the file system has no hard links, renamed once ``target`` is seen absent."""
    try:
        if source.is_dir() and not source.is_symlink():
            os.rename(source, target)
            return
        try:
            os.link(source, target, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError:
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST)) from None
            os.rename(source, target)
        else:
            source.unlink()
    except OSError as error:
        raise ScenelabError(
            f"cannot move {source.name!r} into {target.parent} ({error.strerror or error}); "
            "nothing there was replaced"
        ) from None


def download_miniplaces(
    directory: Path,
    mirror: str | None = None,
    checksum: str | None = MINIPLACES_ARCHIVE.checksum,
    progress: bool = True,
) -> None:
    """Download and extract MiniPlaces into `directory`, which becomes a dataset root.

    `mirror` fetches every file from `MIRROR/<name>` instead of its official address;
    `checksum` is the archive's expected `md5:HEX` or `sha256:HEX`, None to skip the check.
    The archive is kept, so that running the command again downloads nothing.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for remote in (MINIPLACES_ARCHIVE, *MINIPLACES_LISTS):
        url = f"{mirror.rstrip('/')}/{remote.name}" if mirror else remote.url
        destination = directory / remote.name
        if destination.exists():
            log.info(f"{destination}: already downloaded")
        else:
            fetch(url, destination, progress)
    archive = directory / MINIPLACES_ARCHIVE.name
    if checksum is not None:
        check_checksum(archive, checksum)
    log.info(f"{archive}: sha256 {file_digest(archive, 'sha256')}")
    _extract_once(archive, directory)
    print(f"done: {directory} is a MiniPlaces root (check it: scenelab data verify {directory})")
