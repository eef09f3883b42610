"""Resident memory of this process, read from /proc/self/status on Linux.

``VmHWM`` is the peak resident set size of the current program image. Unlike
``getrusage().ru_maxrss``, it starts afresh in a process made by fork + exec,
so a subprocess measures its own peak, not its parent's.
"""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB."""
    kib = _status_kib("VmHWM")
    if kib is None:  # not Linux: ru_maxrss (KiB on most systems)
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024


def current_rss_mib() -> float:
    """The process's resident set size now, in MiB."""
    kib = _status_kib("VmRSS")
    return (kib if kib is not None else 0) / 1024
