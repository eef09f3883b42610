"""Untrusted files: a checkpoint that would run code is refused by every command and the
code never runs; unsafe tar members are refused before anything is written; a
--pretrained file that does not fit the model gets a readable diff."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest
import torch

from scenelab.checkpoint import load_checkpoint, save_checkpoint
from scenelab.cli import main
from scenelab.config import RunConfig
from scenelab.data.download import safe_extract
from scenelab.errors import ScenelabError
from scenelab.models import build_model

REFUSED = "refused: it holds pickled objects"


class RunsCodeWhenLoaded:
    """Unpickling this calls exec(): what a malicious checkpoint carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def malicious_checkpoint(path: Path, marker: Path) -> Path:
    """A checkpoint that looks right (a SimpleNet on digits) and runs code when unpickled."""
    model = build_model("simplenet", 10)
    config = RunConfig(data="digits", image_size=32, num_classes=10).to_dict()
    state = {"model": model.state_dict(), "config": config, "classes": [str(i) for i in range(10)]}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**state, "metrics": RunsCodeWhenLoaded(marker)}, path)
    return path


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "code-ran"


def test_the_crafted_checkpoint_does_run_code_when_unpickled(tmp_path, marker):
    """The payload is live: torch.load without weights_only runs it."""
    path = malicious_checkpoint(tmp_path / "evil.pt", marker)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["eval", "{ckpt}", "--data", "digits"],
        ["predict", "{ckpt}", "--data", "digits", "--split", "val"],
        ["attack", "{ckpt}", "--data", "digits"],
        ["saliency", "{ckpt}", "--data", "digits", "--n", "2"],
        ["eval", "{run}", "--data", "digits"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_every_command_refuses_a_checkpoint_that_runs_code(tmp_path, marker, capsys, command):
    run = tmp_path / "run"
    path = malicious_checkpoint(run / "checkpoints" / "best.pt", marker)
    argv = [arg.format(ckpt=path, run=run) for arg in command]
    assert main(argv) == 2
    message = capsys.readouterr().err
    assert REFUSED in message and "Traceback" not in message
    assert not marker.exists(), "the checkpoint's code ran"


def test_resume_refuses_a_checkpoint_that_runs_code(tmp_path, marker, capsys):
    run = tmp_path / "run"
    RunConfig(epochs=1, batch_size=32, out=str(run)).to_yaml(tmp_path / "config.yaml")
    run.mkdir()
    (tmp_path / "config.yaml").rename(run / "config.yaml")
    malicious_checkpoint(run / "checkpoints" / "last.pt", marker)
    assert main(["train", "--resume", str(run)]) == 2
    message = capsys.readouterr().err
    assert REFUSED in message and "Traceback" not in message
    assert not marker.exists()


def test_a_good_previous_copy_is_used_instead_with_a_warning(tmp_path, marker, capsys):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {}, "step": 1})
    save_checkpoint(path, {"model": {}, "step": 2})  # step 1 is now last.pt.prev
    malicious_checkpoint(path, marker)
    assert load_checkpoint(path)["step"] == 1
    assert REFUSED in capsys.readouterr().err
    assert not marker.exists()


def test_pretrained_refuses_a_file_that_runs_code(tmp_path, marker, capsys):
    path = tmp_path / "weights.pth"
    torch.save({"conv1.weight": torch.zeros(1), "payload": RunsCodeWhenLoaded(marker)}, path)
    argv = ["train", "--model", "resnet18", "--pretrained", str(path), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    message = capsys.readouterr().err
    assert f"--pretrained {path}: {REFUSED}" in message and "Traceback" not in message
    assert not marker.exists()


def test_pretrained_that_does_not_fit_gets_a_readable_diff(tmp_path, capsys):
    weights = torch.nn.Module.state_dict(build_model("resnet18", 1000)[1])  # the bare network
    weights.pop("layer1.0.bn1.running_mean")
    weights["layer9.weight"] = torch.zeros(3)
    weights["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    path = tmp_path / "resnet18.pth"
    torch.save(weights, path)
    argv = ["train", "--model", "resnet18", "--pretrained", str(path), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    message = capsys.readouterr().err
    assert "Traceback" not in message
    assert f"--pretrained {path} does not fit this model" in message
    assert re.search(r"1 missing from the file:\s+layer1\.0\.bn1\.running_mean", message)
    assert re.search(r"1 not in the model:\s+layer9\.weight", message)
    assert "conv1.weight: file (64, 3, 3, 3), model (64, 3, 7, 7)" in message


def test_pretrained_that_fits_is_loaded(tmp_path):
    """The control: the same check passes a fitting file and every weight arrives."""
    weights = torch.nn.Module.state_dict(build_model("resnet18", 1000)[1])
    path = tmp_path / "resnet18.pth"
    torch.save(weights, path)
    model = build_model("resnet18", 20, pretrained=path)
    for key, value in model[1].state_dict().items():
        if not key.startswith("fc."):  # the classifier is new: 20 classes, not 1000
            assert torch.equal(value, weights[key]), key


# --- tar archives -------------------------------------------------------------------------


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def harmless() -> tuple[tarfile.TarInfo, bytes]:
    return member("images/ok.txt"), b"fine"


UNSAFE = {
    "absolute path": ([(member("/tmp/scenelab-pwned"), b"x")], "absolute path"),
    "dot-dot": ([(member("images/../../pwned"), b"x")], "'..'"),
    "symlink out (absolute)": ([(member("images/etc", tarfile.SYMTYPE, "/etc"), b"")], "outside"),
    "symlink out (relative)": (
        [(member("images/up", tarfile.SYMTYPE, "../../.."), b""), (member("images/up/x"), b"x")],
        "outside",
    ),
    "symlink chain out": (
        [
            (member("a", tarfile.SYMTYPE, "b/c"), b""),
            (member("b", tarfile.SYMTYPE, "../outside"), b""),
        ],
        "outside",
    ),
    "hard link out (absolute)": ([(member("passwd", tarfile.LNKTYPE, "/etc/passwd"), b"")], "out"),
    "hard link out (relative)": ([(member("h", tarfile.LNKTYPE, "../secret"), b"")], "outside"),
    "device file": ([(member("images/dev", tarfile.CHRTYPE), b"")], "device"),
    "FIFO": ([(member("images/fifo", tarfile.FIFOTYPE), b"")], "FIFO"),
}


@pytest.mark.parametrize("mode", ["w", "w:gz"])
@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_archives_are_refused_whole(tmp_path, case, mode):
    members, reason = UNSAFE[case]
    archive = make_tar(tmp_path / "data.tar", [harmless(), *members], mode)
    outside = tmp_path / "secret"
    outside.write_text("untouched")
    destination = tmp_path / "out" / "dataset"
    with pytest.raises(ScenelabError, match=f"refusing .*{re.escape(reason)}"):
        safe_extract(archive, destination)
    assert not any(destination.iterdir()), "something was extracted"
    assert outside.read_text() == "untouched"
    assert not Path("/tmp/scenelab-pwned").exists()


def absurd_header(name: str, size: int) -> bytes:
    """A tar header claiming ``size`` bytes, followed by none of them."""
    info = member(name)
    info.size = size
    return info.tobuf(format=tarfile.PAX_FORMAT) + bytes(1024)


def test_a_header_claiming_an_absurd_size_is_refused(tmp_path):
    """10 TiB announced, nothing behind it: refused before a byte is written."""
    archive = tmp_path / "bomb.tar"
    archive.write_bytes(absurd_header("images/huge.jpg", 10 * 2**40))
    with pytest.raises(ScenelabError, match=r"bomb\.tar: cannot extract \(unexpected end"):
        safe_extract(archive, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())


def test_a_member_over_the_size_limit_is_refused(tmp_path):
    archive = make_tar(tmp_path / "big.tar.gz", [harmless(), (member("big"), bytes(8192))], "w:gz")
    with pytest.raises(ScenelabError, match=r"refusing 'big': it is 8192 bytes, over the 4096"):
        safe_extract(archive, tmp_path / "out", max_member_bytes=4096)
    assert not any((tmp_path / "out").iterdir())


def test_an_archive_that_unpacks_to_too_much_is_refused(tmp_path):
    """Each member under the per-member limit, the sum over the total limit."""
    archive = make_tar(
        tmp_path / "many.tar.gz", [(member(f"f{i}"), bytes(4096)) for i in range(8)], "w:gz"
    )
    with pytest.raises(ScenelabError, match=r"unpack to 32768 bytes, over the 20000-byte"):
        safe_extract(archive, tmp_path / "out", max_member_bytes=5000, max_total_bytes=20000)
    assert not any((tmp_path / "out").iterdir())


def test_a_safe_archive_with_inside_links_is_extracted(tmp_path):
    """The control: links that stay inside, and ordinary files, are extracted."""
    archive = make_tar(
        tmp_path / "ok.tar.gz",
        [
            harmless(),
            (member("images/alias.txt", tarfile.SYMTYPE, "ok.txt"), b""),
            (member("images/hard.txt", tarfile.LNKTYPE, "images/ok.txt"), b""),
        ],
        "w:gz",
    )
    safe_extract(archive, tmp_path / "out")
    for name in ("ok.txt", "alias.txt", "hard.txt"):
        assert (tmp_path / "out" / "images" / name).read_text() == "fine"


@pytest.mark.parametrize(
    "content",
    [b"hello", b"image,top1\nx,1\n", b"\x80\x02}q\x00.", b"PK\x03\x04garbage", b""],
    ids=["text", "csv", "tiny pickle", "zip header", "empty"],
)
def test_a_file_that_is_no_checkpoint_is_refused_in_one_line(tmp_path, content):
    """Whatever torch.load raises while parsing a file that is not a checkpoint (KeyError,
    IndexError, ... besides UnpicklingError) becomes one ScenelabError naming the file."""
    path = tmp_path / "-"
    path.write_bytes(content)
    with pytest.raises(ScenelabError, match=re.escape(str(path))):
        load_checkpoint(path)
