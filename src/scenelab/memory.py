"""Memory of this process: its resident set, and whether glibc reuses what tensors free.

The resident set is read from /proc/self/status on Linux. ``VmHWM`` is the peak resident
set size of the current program image. Unlike ``getrusage().ru_maxrss``, it starts afresh
in a process made by fork + exec, so a subprocess measures its own peak, not its parent's.
"""

from __future__ import annotations

import ctypes
import platform
import resource
from collections.abc import Iterator
from contextlib import contextmanager
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


# glibc's mallopt parameters (malloc.h), and the largest mmap threshold its dynamic
# adjustment reaches, with the trim threshold it pairs with it (mallopt(3)).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_MMAP_THRESHOLD_MAX = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)
_DEFAULT_MMAP_MAX = 65536


def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Keep the memory freed tensors give back in this process, for the next ones to reuse.

    glibc's malloc serves large blocks (above a threshold of at most 32 MiB) with fresh
    pages from mmap and unmaps them when they are freed, so every training step on the
    CPU faults in and zeroes its largest activations anew: 95,000 page faults per
    SimpleNet step here, over a third of the step's time (docs/benchmarks.md, "Training
    loop"). Inside this context glibc keeps freed memory instead (no mmap for blocks, no
    trimming of the heap), which is what PyTorch's CPU performance tuning guide gets from
    jemalloc or tcmalloc. The resident set then stays near its high-water mark until the
    context ends. On exit the kept memory is returned, and glibc is left as its dynamic
    thresholds leave a process that has freed large blocks (mmap threshold 32 MiB, trim
    threshold 64 MiB; setting any threshold ends that adjustment for the process). Yields
    whether it took effect (only where the C library is glibc).
    """
    libc = _glibc()
    if libc is None:
        yield False
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    try:
        yield True
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)
        libc.malloc_trim(0)
