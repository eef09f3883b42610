"""reuse_freed_memory against the kernel's own accounting: page faults and resident set."""

from __future__ import annotations

import platform
import resource

import pytest
import torch

from scenelab.memory import current_rss_mib, reuse_freed_memory

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")

BLOCK_MIB = 64  # above glibc's largest mmap threshold (32 MiB): mmap'd by default


def written_block(mib: int = BLOCK_MIB) -> torch.Tensor:
    """``mib`` MiB of float32, every page written."""
    return torch.ones(mib * 2**20 // 4)


def touch_block(mib: int = BLOCK_MIB) -> None:
    """Allocate a written block and free it."""
    written_block(mib)


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def test_inside_freed_blocks_stay_resident_and_come_back_without_page_faults():
    pages = BLOCK_MIB * 2**20 // resource.getpagesize()
    faults = []
    with reuse_freed_memory() as active:
        for _ in range(20):
            start = minor_faults()
            touch_block()
            faults.append(minor_faults() - start)
        block = written_block()
        holding = current_rss_mib()
        del block
        returned = holding - current_rss_mib()
    assert active
    assert returned < 0.1 * BLOCK_MIB
    # The first blocks may take new pages, until freed neighbours have merged.
    assert max(faults[-5:]) < pages / 100


def test_on_exit_the_kept_memory_is_returned():
    with reuse_freed_memory():
        touch_block()
        holding = current_rss_mib()
    assert holding - current_rss_mib() > 0.9 * BLOCK_MIB


def test_after_exit_blocks_under_32_mib_come_from_the_heap_as_glibc_leaves_them_itself():
    with reuse_freed_memory():
        pass
    faults = []
    for _ in range(20):
        start = minor_faults()
        touch_block(16)
        faults.append(minor_faults() - start)
    assert max(faults[-5:]) < 16 * 2**20 / resource.getpagesize() / 100
