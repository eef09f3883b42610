"""DDP (gloo, two CPU processes): when one process dies or hangs, the other stops with an
error naming its rank within a bounded time instead of waiting forever."""

from __future__ import annotations

import signal
import socket
import time

import pytest
import reliability_harness as harness
from reliability_runs import train_args

from scenelab.train.distributed import TIMEOUT_ENV

HANG_TIMEOUT_S = 5  # SCENELAB_DDP_TIMEOUT_S for the hang test


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_world(tiny_data, tmp_path, extra_env: dict[str, str] | None = None):
    """Both ranks of a two-process run, with the variables torchrun would set."""
    run, port = tmp_path / "run", str(free_port())
    argv = train_args(tiny_data, run, epochs=20)  # far longer than the test lets it live
    children = []
    for rank in range(2):
        env = {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            **(extra_env or {}),
        }
        children.append(harness.start(argv, tmp_path / f"rank{rank}", env=env))
    # Training is under way in both once rank 0 has written epoch 1's checkpoint.
    harness.wait_for((run / "checkpoints" / "last.pt").is_file, children[0])
    time.sleep(0.3)
    return children


def assert_stopped_cleanly(survivor, rank: int, within_s: float, started: float) -> None:
    code = survivor.wait(timeout=within_s)
    elapsed = time.monotonic() - started
    assert code == 2, survivor.stderr
    assert elapsed < within_s
    message = survivor.stderr
    assert "Traceback" not in message
    assert f"scenelab: error: rank {rank} of 2: lost another training process" in message
    assert "--resume" in message


@pytest.mark.parametrize("dead", [1, 0], ids=["worker dies", "rank 0 dies"])
def test_the_survivor_exits_when_a_process_dies(tiny_data, tmp_path, dead):
    children = start_world(tiny_data, tmp_path)
    try:
        children[dead].kill()
        survivor = 1 - dead
        assert_stopped_cleanly(children[survivor], survivor, 30, time.monotonic())
    finally:
        for child in children:
            child.process.kill()


def test_the_survivor_gives_up_on_a_hung_worker(tiny_data, tmp_path):
    children = start_world(tiny_data, tmp_path, {TIMEOUT_ENV: str(HANG_TIMEOUT_S)})
    try:
        children[1].send(signal.SIGSTOP)  # alive, its sockets open, answering nothing
        assert_stopped_cleanly(children[0], 0, HANG_TIMEOUT_S + 30, time.monotonic())
    finally:
        for child in children:
            child.process.kill()
