"""Models that do not fit: refused before anything is written (the corpus cases in
hostile_checkpoints.py check the messages; this checks the folder)."""

from __future__ import annotations

from reliability_corpus import TRAIN, write_base

from scenelab.cli import main


def test_a_model_too_deep_for_the_image_size_writes_nothing(tmp_path, capsys):
    """squeezenet1_0 at 16x16 pixels used to fail in its first step, leaving config.yaml
    and an event file in --out."""
    root, out = tmp_path / "data", tmp_path / "run"
    write_base(root)
    argv = [arg.format(root=root, run=out) for arg in TRAIN]
    assert main([*argv, "--model", "squeezenet1_0"]) == 2
    assert (
        "squeezenet1_0 --image-size 16: the model cannot take 16x16 images"
        in capsys.readouterr().err
    )
    assert not out.exists()
