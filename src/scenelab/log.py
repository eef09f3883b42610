"""scenelab's messages, through the standard `logging` module under the "scenelab" logger.

Library modules log with ``logging.getLogger(__name__)`` and configure nothing: importing
scenelab changes no logging state, and a program that uses it as a library decides what
it shows. The command line shows INFO and above as plain lines (`log_to_console`: on
stdout, warnings and errors on stderr; ``--quiet`` keeps only those, ``--verbose`` adds
DEBUG). A training run also writes what it logs, with times, to RUN/train.log
(`log_file`), whatever the console shows.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = "scenelab"
QUIET, NORMAL, VERBOSE = -1, 0, 1
CONSOLE_LEVELS = {QUIET: logging.WARNING, NORMAL: logging.INFO, VERBOSE: logging.DEBUG}
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ConsoleHandler(logging.Handler):
    """Plain lines on the streams as they are when a record comes (a redirected or
    captured sys.stdout included): INFO and DEBUG on stdout, warnings and errors on
    stderr as ``scenelab: warning: ...``."""

    closed = False  # the reader went away (``| head``): the run goes on, train.log keeps all

    def emit(self, record: logging.LogRecord) -> None:
        if self.closed:
            return
        try:
            message = self.format(record)
            if record.levelno >= logging.WARNING:
                stream, message = sys.stderr, f"scenelab: {record.levelname.lower()}: {message}"
            else:
                stream = sys.stdout
            stream.write(message + "\n")
            stream.flush()
        except OSError:  # a closed pipe or terminal
            self.closed = True
        except Exception:  # logging's own rule: a failing handler must not stop the program
            self.handleError(record)


def log_to_console(verbosity: int = NORMAL) -> None:
    """Show scenelab's messages at ``verbosity`` (QUIET, NORMAL or VERBOSE) on the console,
    replacing an earlier console handler; the command line calls this once per command."""
    logger = logging.getLogger(ROOT)
    for handler in [h for h in logger.handlers if isinstance(h, ConsoleHandler)]:
        logger.removeHandler(handler)
    console = ConsoleHandler(CONSOLE_LEVELS[verbosity])
    logger.addHandler(console)
    logger.setLevel(logging.DEBUG)  # the handlers choose; a run's train.log takes everything


def console_shows(level: int) -> bool:
    """Whether a console handler shows messages of ``level`` (progress bars follow it)."""
    handlers = logging.getLogger(ROOT).handlers
    return any(isinstance(h, ConsoleHandler) and level >= h.level for h in handlers)


@contextmanager
def log_file(path: Path) -> Iterator[None]:
    """Append every scenelab message of INFO and above (DEBUG too with --verbose) to
    ``path``, with its time, while the block runs."""
    logger = logging.getLogger(ROOT)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    handler.setLevel(logging.DEBUG if console_shows(logging.DEBUG) else logging.INFO)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:  # a library caller configured nothing
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous)
