"""``scenelab train``: a run config from --config, flags and --resume, then the loop."""

from __future__ import annotations

import argparse
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from scenelab.config import RunConfig, resumed_config
from scenelab.evaluate import run_folder_of
from scenelab.safetext import terminal
from scenelab.train.engine import train
from scenelab.train.runfolder import has_checkpoint

log = logging.getLogger(__name__)

CONFIG_KEYS = frozenset(field.name for field in fields(RunConfig))


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings given on the command line (flags left out are absent)."""
    return {key: value for key, value in vars(args).items() if key in CONFIG_KEYS}


def train_command(args: argparse.Namespace) -> int:
    overrides = flag_overrides(args)
    if args.resume is not None:
        run_dir = Path(args.resume)
        if run_dir.is_file():  # a checkpoint: continue the run it belongs to
            run_dir = run_folder_of(run_dir)
        config = resumed_config(run_dir, overrides)
        if not has_checkpoint(run_dir):
            log.info(
                f"{terminal(str(run_dir))} stopped before its first checkpoint; "
                "starting it from the beginning"
            )
        train(config, resume=True)
        return 0
    base = RunConfig.from_yaml(args.config) if args.config is not None else RunConfig()
    train(base.replace(**overrides))
    return 0
