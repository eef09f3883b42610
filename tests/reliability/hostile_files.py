"""Hostile inputs, one failure class: Run folders and downloads: nothing a user made is
overwritten or deleted.

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

from reliability_corpus import REFUSES, TRAIN, WORKS, Case

USERS_FILE = b"the user's own file"


def run_folder_with(*names: str) -> Callable[[Path], None]:
    """The case's run folder (DIR/run) already holds ``names``, each a file of the user's."""

    def build(root: Path) -> None:
        for name in names:
            path = root.parent / "run" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(USERS_FILE)
        (root.parent / "run").mkdir(exist_ok=True)

    return build


def archive_over_a_users_folder(root: Path) -> None:
    """A mirror (DIR/mirror) whose data.tar.gz has a top-level `objects/`, and a DIR/target
    that already holds a folder `objects/` of the user's."""
    mirror = root.parent / "mirror"
    mirror.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("images/train/a.jpg", "objects/a.txt"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"data"))
    (mirror / "data.tar.gz").write_bytes(buffer.getvalue())
    for name in ("train.txt", "val.txt", "categories.txt"):
        (mirror / name).write_text("")
    users = root.parent / "target" / "objects" / "mine.txt"
    users.parent.mkdir(parents=True)
    users.write_bytes(USERS_FILE)


DOWNLOAD = (
    *("data", "download", "miniplaces", "{dir}/target"),
    *("--mirror", "file://{dir}/mirror", "--checksum", "none"),
)
ALREADY_A_RUN = r"DIR/run already holds files of a run \(DIR/run/{}\)"

CASES: list[Case] = [
    Case("train --out: an empty existing folder", TRAIN, WORKS, 0, r"trained", run_folder_with()),
    Case(
        "train --out: a folder with a lone checkpoints/best.pt",
        TRAIN,
        REFUSES,
        2,
        ALREADY_A_RUN.format(r"checkpoints/best\.pt") + r".*--resume DIR/run",
        run_folder_with("checkpoints/best.pt"),
    ),
    Case(
        "train --out: a folder with a config.yaml",
        TRAIN,
        REFUSES,
        2,
        ALREADY_A_RUN.format(r"config\.yaml"),
        run_folder_with("config.yaml"),
    ),
    Case(
        "train --out: a folder with a metrics.csv",
        TRAIN,
        REFUSES,
        2,
        ALREADY_A_RUN.format(r"metrics\.csv"),
        run_folder_with("metrics.csv"),
    ),
    Case(
        "download: an archive entry named like a folder in DIR",
        DOWNLOAD,
        REFUSES,
        2,
        r"DIR/target/objects already exists",
        archive_over_a_users_folder,
        dataset=False,
    ),
]
