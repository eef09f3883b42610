"""`scenelab data verify ROOT --write-list PATH` and the `ROOT::train=LIST` spec: a mirror
that lacks images gets a list of its usable lines, beside the original, and trains on it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from data_builders import make_miniplaces, write_image
from PIL import Image

from scenelab.cli import main
from scenelab.config import RunConfig, resolve
from scenelab.data import build_dataset
from scenelab.data.spec import dataset_name, parse_spec
from scenelab.errors import ScenelabError


@pytest.fixture
def damaged(tmp_path) -> Path:
    """A MiniPlaces root whose train list names a missing image and a file that is no image."""
    root = make_miniplaces(tmp_path / "mirror")
    lines = (root / "train.txt").read_text().splitlines()
    (root / "images" / lines[1].split()[0]).unlink()
    (root / "images" / lines[6].split()[0]).write_bytes(b"half a JPEG")
    (root / "train.txt").write_text("\n".join([*lines[:4], "", *lines[4:]]) + "\n")  # a blank
    return root


def decodable_lines(root: Path, list_file: Path) -> list[str]:
    """The reference: the non-blank lines whose image PIL opens and decodes."""
    kept = []
    for line in list_file.read_text().splitlines():
        if not line.strip():
            continue
        try:
            with Image.open(root / "images" / line.rsplit(maxsplit=1)[0]) as image:
                image.load()
        except OSError:
            continue
        kept.append(line)
    return kept


def test_train_refuses_the_mirror_and_names_the_way_on(damaged):
    with pytest.raises(ScenelabError) as error:
        build_dataset(str(damaged), "train")
    assert "image not found" in str(error.value)
    usable = damaged / "train.usable.txt"
    assert f"scenelab data verify {damaged} --write-list {usable}" in str(error.value)


def test_the_usable_lines_are_written_beside_and_train_reads_them(damaged, capsys, tmp_path):
    original = (damaged / "train.txt").read_bytes()
    target = damaged / "train.usable.txt"
    assert main(["data", "verify", str(damaged), "--write-list", str(target)]) == 1
    out = capsys.readouterr().out
    assert target.read_text().splitlines() == decodable_lines(damaged, damaged / "train.txt")
    assert len(target.read_text().splitlines()) == 10  # 12 listed, 2 unusable
    assert (damaged / "train.txt").read_bytes() == original
    spec = f"{damaged}::train=train.usable.txt"
    assert f"wrote 10 of the 12 lines of {damaged / 'train.txt'} to {target}" in out
    assert f"--data '{spec}'" in out

    dataset = build_dataset(spec, "train")
    expected = [damaged / "images" / line.split()[0] for line in target.read_text().splitlines()]
    assert [Path(path) for path in dataset.paths] == expected
    assert len(build_dataset(spec, "val")) == len(build_dataset(str(damaged), "val"))
    assert main(["data", "verify", spec]) == 0


def test_a_val_list_can_be_written_and_named_too(tmp_path, capsys):
    root = make_miniplaces(tmp_path / "mirror")
    first = (root / "val.txt").read_text().splitlines()[0]
    (root / "images" / first.split()[0]).unlink()
    target = tmp_path / "elsewhere" / "val-ok.txt"
    target.parent.mkdir()
    args = ["data", "verify", str(root), "--write-list", str(target), "--split", "val"]
    assert main(args) == 1
    assert f"--data '{root}::val={target.resolve()}'" in capsys.readouterr().out
    assert len(build_dataset(f"{root}::val={target.resolve()}", "val")) == 5


@pytest.mark.parametrize(
    "target, message",
    [
        ("train.txt", r"train\.txt: that is the train list itself"),
        ("./images/../train.txt", r"that is the train list itself"),
        ("val.txt", r"val\.txt: already exists; name a new file"),
    ],
)
def test_an_existing_path_or_the_original_is_refused(damaged, capsys, target, message):
    before = {path: path.read_bytes() for path in damaged.glob("*.txt")}
    assert main(["data", "verify", str(damaged), "--write-list", str(damaged / target)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and re.search(message, error), error
    assert {path: path.read_bytes() for path in damaged.glob("*.txt")} == before


def test_write_list_needs_a_list_file(tmp_path, capsys):
    for split in ("train", "val"):
        write_image(tmp_path / "folders" / split / "abbey" / "1.png", seed=1)
    for root, message in ((tmp_path / "folders", "has class folders"), ("digits", "built in")):
        assert main(["data", "verify", str(root), "--write-list", str(tmp_path / "l.txt")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "l.txt").exists()


def test_specs_name_lists_relative_to_the_root(tmp_path):
    spec = parse_spec(f"{tmp_path}::train=a.txt::val=/abs/b.txt")
    assert spec.root == tmp_path
    assert spec.list_file("train") == tmp_path / "a.txt"
    assert spec.list_file("val") == Path("/abs/b.txt")
    assert parse_spec(tmp_path).list_file("val") == tmp_path / "val.txt"
    for bad, message in (
        ("r::train", "is not SPLIT=LIST"),
        ("r::test=a", "'test' has no list file to replace"),
        ("r::train=a::train=b", "the train list is given twice"),
        ("::train=a", "no folder"),
    ):
        with pytest.raises(ScenelabError, match=message):
            parse_spec(bad)


def test_a_spec_on_class_folders_is_refused(tmp_path):
    write_image(tmp_path / "folders" / "train" / "abbey" / "1.png", seed=1)
    (tmp_path / "folders" / "a.txt").write_text("train/abbey/1.png 0\n")
    with pytest.raises(ScenelabError, match="list files replace those of a MiniPlaces folder"):
        build_dataset(f"{tmp_path / 'folders'}::train=a.txt", "train")


def test_a_spec_naming_a_missing_list_is_refused(tiny_miniplaces):
    with pytest.raises(ScenelabError, match=r"the val list .*gone\.txt does not exist"):
        build_dataset(f"{tiny_miniplaces}::val=gone.txt", "train")


def test_control_characters_in_the_path_are_shown_escaped(tiny_miniplaces, capsys, tmp_path):
    target = tmp_path / "\x1b[31m.txt"
    assert main(["data", "verify", str(tiny_miniplaces), "--write-list", str(target)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and f"::train={tmp_path.resolve()}/\\x1b[31m.txt'" in out
    assert target.read_text() == (tiny_miniplaces / "train.txt").read_text()


def test_a_run_named_after_a_spec_is_named_after_its_root_alone(tiny_miniplaces):
    """The default run folder names the dataset, not its lists (it was 'x::train=...')."""
    spec = f"{tiny_miniplaces}::train=train.usable.txt"
    resolved = resolve(RunConfig(data=spec), image_size=32)
    assert Path(resolved.out) == Path("runs") / f"simplenet-{tiny_miniplaces.name}"
    assert dataset_name(spec) == dataset_name(tiny_miniplaces) == tiny_miniplaces.name
    assert dataset_name("digits") == "digits"
