"""scripts/device_check.sh without a GPU: it parses, and every command it would run parses."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from scenelab.cli import build_parser

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "device_check.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_dry_run_commands_parse(tmp_path):
    environment = {**os.environ, "DEVICE_CHECK_DRY_RUN": "1", "DEVICE_CHECK_OUT": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, check=True
    )
    commands = [shlex.split(line[2:]) for line in result.stderr.splitlines() if line[:2] == "+ "]
    scenelab = [c[c.index("scenelab") + 1 :] for c in commands if "scenelab" in c]
    pytest_runs = [c for c in commands if "pytest" in c]
    assert len(pytest_runs) == 1 and "cuda" in pytest_runs[0]
    subcommands = [args[:2] for args in scenelab]
    assert subcommands.count(["bench", "conv"]) == 2
    assert sum(args[0] == "train" for args in scenelab) == 8  # 2 models x 2 precisions x 2 convs
    for args in scenelab:
        parsed = build_parser().parse_args(args)  # exits (SystemExit) on an unknown flag
        if args[0] == "bench":
            assert parsed.device == "cuda"
        else:
            assert parsed.device == "cuda" and parsed.amp in ("bf16", "fp16")
    amps = {
        (a[a.index("--model") + 1], a[a.index("--amp") + 1]) for a in scenelab if a[0] == "train"
    }
    assert amps == {(m, p) for m in ("simplenet", "resnet18") for p in ("bf16", "fp16")}
