"""scenelab.log: messages through `logging`; the command line's console handler with
--quiet / --verbose; a run's train.log; nothing configured on import."""

from __future__ import annotations

import io
import logging
import subprocess
import sys

import pytest

from scenelab.cli import main
from scenelab.log import ROOT, ConsoleHandler, log_to_console


def digits_run(out, *flags: str) -> list[str]:
    return ["train", "--data", "digits", "--epochs", "1", "--out", str(out), *flags]


def test_a_run_logs_to_its_folder_whatever_the_console_shows(tmp_path, capsys):
    assert main([*digits_run(tmp_path / "quiet"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    written = (tmp_path / "quiet" / "train.log").read_text()
    assert "INFO scenelab.train.engine: epoch 1/1  train loss" in written
    assert "best val top-1" in written and "resolved config" not in written

    assert main(["-v", *digits_run(tmp_path / "verbose")]) == 0  # before the sub-command too
    shown = capsys.readouterr().out
    assert "epoch 1/1  train loss" in shown and "resolved config: {'data': 'digits'" in shown
    written = (tmp_path / "verbose" / "train.log").read_text()
    assert "DEBUG scenelab.train.engine: saved best.pt, last.pt at step" in written

    assert main(["train", "--resume", str(tmp_path / "quiet"), "--epochs", "2"]) == 0
    assert "resuming" in capsys.readouterr().out
    written = (tmp_path / "quiet" / "train.log").read_text()
    assert written.count("epoch 1/1  train loss") == 1  # appended to, not overwritten
    assert "epoch 2/2  train loss" in written


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "-q", "-v"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_library_call_logs_through_logging(tmp_path, caplog):
    from scenelab.config import RunConfig
    from scenelab.train.engine import train

    logging.getLogger(ROOT).handlers.clear()  # as a program that configured nothing
    logging.getLogger(ROOT).setLevel(logging.NOTSET)
    with caplog.at_level(logging.INFO, logger=ROOT):
        train(RunConfig(data="digits", epochs=1, out=str(tmp_path / "run")))
    assert any("epoch 1/1  train loss" in r.getMessage() for r in caplog.records)
    assert logging.getLogger(ROOT).handlers == []  # train.log's handler is gone


def test_a_closed_console_stops_the_console_not_the_program(monkeypatch, capsys):
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    log_to_console()
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    logger = logging.getLogger(f"{ROOT}.test")
    logger.info("first")
    logger.info("second")
    handler = next(h for h in logging.getLogger(ROOT).handlers if isinstance(h, ConsoleHandler))
    assert handler.closed
    assert capsys.readouterr().err == ""  # no "--- Logging error ---" traceback


def test_importing_scenelab_configures_no_logging():
    code = (
        "import logging, scenelab, scenelab.train, scenelab.cli; "
        "print(logging.getLogger('scenelab').handlers, logging.getLogger().handlers)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] []"
