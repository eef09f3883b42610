"""A run folder belongs to one process: two `scenelab train` on one --out, started
together, give one run and one refusal naming the holder's PID; the lock is an OS lock,
so a SIGKILLed holder leaves nothing stale behind."""

from __future__ import annotations

import os
import re
import socket

import pytest
import reliability_harness as harness
from reliability_runs import train_args
from test_ddp_failure import free_port

from scenelab.errors import ScenelabError
from scenelab.train.runfolder import LOCK_NAME, run_folder_lock

# 0.05 s more per step: the 18 steps of a run outlast the start of a second process.
SLOW = [("slow_steps", {"pause_s": 0.05})]
IN_USE = r"{run} is in use by another scenelab process \(PID {pid}\)"


def in_use(run, pid: int) -> str:
    return IN_USE.format(run=re.escape(str(run)), pid=pid)


def test_two_runs_on_one_folder_started_together_one_runs_one_is_refused(tiny_data, tmp_path):
    run = tmp_path / "run"
    argv = train_args(tiny_data, run)
    children = [harness.start(argv, tmp_path / f"logs{i}", faults=SLOW) for i in range(2)]
    codes = [child.wait() for child in children]
    assert sorted(codes) == [0, 2], [child.stderr for child in children]
    winner, loser = children if codes[0] == 0 else children[::-1]
    assert loser.stderr.startswith(f"scenelab: error: {run} is in use"), loser.stderr
    assert re.search(in_use(run, winner.process.pid), loser.stderr), loser.stderr
    assert "Traceback" not in loser.stderr
    lines = (run / "metrics.csv").read_text().splitlines()
    assert len(lines) == 1 + 3  # the header and the winner's three epochs, once each
    assert not (run / LOCK_NAME).exists()  # released and removed by the run that held it


def test_the_lock_of_a_killed_run_is_free_again(tiny_data, tmp_path):
    run = tmp_path / "run"
    holder = harness.start(train_args(tiny_data, run), tmp_path / "holder", faults=SLOW)
    harness.wait_for((run / "config.yaml").is_file, holder)
    second = harness.run(["train", "--resume", str(run)], tmp_path / "second")
    assert second.process.exitcode == 2
    assert re.search(in_use(run, holder.process.pid), second.stderr), second.stderr
    holder.kill()  # SIGKILL: no handler runs, the lock file stays behind
    assert (run / LOCK_NAME).exists()
    resumed = harness.run(["train", "--resume", str(run)], tmp_path / "resumed")
    assert resumed.process.exitcode == 0, resumed.stderr
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 3


def start_ranks(argv: list[str], tmp_path, name: str) -> list[harness.Child]:
    """Both ranks of a two-process (gloo) run, with the variables torchrun would set."""
    port = str(free_port())
    return [
        harness.start(
            argv,
            tmp_path / f"{name}{rank}",
            env={
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": "2",
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": port,
            },
        )
        for rank in range(2)
    ]


def test_under_ddp_rank_0_holds_the_lock_and_every_rank_hears_a_refusal(tiny_data, tmp_path):
    run = tmp_path / "run"
    ranks = start_ranks(train_args(tiny_data, run, epochs=20), tmp_path, "rank")
    try:
        harness.wait_for((run / "checkpoints" / "last.pt").is_file, ranks[0])
        assert (run / LOCK_NAME).read_text().split()[0] == str(ranks[0].process.pid)
    finally:
        for child in ranks:
            child.kill()
    # A folder with a file of the user's: both ranks stop at once with rank 0's refusal.
    ranks = start_ranks(train_args(tiny_data, run), tmp_path, "refused")
    for child in ranks:
        assert child.wait(timeout=60) == 2, child.stderr
        assert f"{run} already holds files of a run" in child.stderr, child.stderr
        assert "Traceback" not in child.stderr
    # A folder rank 0 cannot make (under a file): the OSError, exit 1, on both ranks.
    ranks = start_ranks(train_args(tiny_data, run / "config.yaml" / "run"), tmp_path, "oserror")
    for child in ranks:
        assert child.wait(timeout=60) == 1, child.stderr
        assert "Not a directory" in child.stderr and "Traceback" not in child.stderr


def test_the_lock_names_its_holder_and_is_exclusive_within_a_process(tmp_path):
    run = tmp_path / "run"
    with run_folder_lock(run):
        pid, host = (run / LOCK_NAME).read_text().split()
        assert (int(pid), host) == (os.getpid(), socket.gethostname())
        with (
            pytest.raises(ScenelabError, match=in_use(run, os.getpid())),
            run_folder_lock(run),
        ):
            pass
    assert not run.exists()  # made for the lock and left empty: removed again
    run.mkdir()
    (run / "mine.txt").write_text("kept")
    with run_folder_lock(run):
        pass
    assert [path.name for path in run.iterdir()] == ["mine.txt"]
