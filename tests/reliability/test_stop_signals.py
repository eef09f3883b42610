"""SIGINT and SIGTERM: the run finishes its step, writes last.pt, exits 130 or 143 saying
how to resume, and the resumed run ends where the uninterrupted one ends."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest
import reliability_harness as harness
from reliability_runs import assert_same_run, load, train_args


def stop_and_resume(argv: list[str], run, reference, signum: int, logs) -> None:
    # 0.1 s more per step: epochs 2-3 (12 steps) outlast the 0.2 s wait on any machine.
    child = harness.start(argv, logs / "stopped", faults=[("slow_steps", {"pause_s": 0.1})])
    # Into epoch 2: epoch 1's checkpoint exists, then a little more training.
    harness.wait_for((run / "checkpoints" / "last.pt").is_file, child)
    time.sleep(0.2)
    child.send(signum)
    assert child.wait() == 128 + signum, child.stderr
    message = child.stderr
    assert "Traceback" not in message
    name = signal.Signals(signum).name
    stopped = re.search(rf"stopped by {name} after step (\d+) ", message)
    assert stopped, message
    assert f"Continue with: scenelab train --resume {run}" in message
    assert load(run / "checkpoints" / "last.pt")["step"] == int(stopped[1])

    resumed = harness.run(["train", "--resume", str(run)], logs / "resumed")
    assert resumed.process.exitcode == 0, resumed.stderr
    assert_same_run(run, reference)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_saves_exits_and_resumes(tiny_data, reference_run, tmp_path, signum):
    run = tmp_path / "run"
    stop_and_resume(train_args(tiny_data, run), run, reference_run, signum, tmp_path)


def test_a_second_signal_interrupts_at_once(tiny_data, tmp_path):
    """The first asks for a clean stop; a second, while it is under way, stops at once."""
    run = tmp_path / "run"
    writing = tmp_path / "writing"
    child = harness.start(
        [*train_args(tiny_data, run), "--ckpt-minutes", "1e-6"],
        tmp_path / "logs",
        faults=[("slow_checkpoint_writes", {"marker": str(writing), "pause_s": 0.2})],
    )
    harness.wait_for(writing.exists, child)  # a 3 s save: the first signal waits for it
    child.send(signal.SIGINT)
    time.sleep(0.1)  # two signals at once are one (POSIX merges pending signals)
    child.send(signal.SIGINT)
    assert child.wait(timeout=10) == 130
    assert "scenelab: interrupted" in child.stderr and "Traceback" not in child.stderr
    for path in (run / "checkpoints").glob("*.pt*"):  # the interrupted write left no trace
        load(path)


@pytest.mark.slow
def test_python_m_scenelab_entry_point(tiny_data, reference_run, tmp_path):
    """The same through the real entry point, `python -m scenelab`, in a fresh process."""
    run = tmp_path / "run"
    logs = tmp_path / "logs"
    logs.mkdir()
    with open(logs / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "scenelab", *train_args(tiny_data, run)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + harness.WAIT_S
            while not (run / "checkpoints" / "last.pt").is_file():
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)
            process.send_signal(signal.SIGTERM)
            assert process.wait(harness.WAIT_S) == 128 + signal.SIGTERM
        finally:
            process.kill()
    message = (logs / "stderr.txt").read_text()
    assert "Traceback" not in message
    assert f"scenelab train --resume {run}" in message
    resumed = harness.run(["train", "--resume", str(run)], logs / "resumed")
    assert resumed.process.exitcode == 0, resumed.stderr
    assert_same_run(run, reference_run)
