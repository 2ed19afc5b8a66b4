"""The streaming fetch's allocator settings (cache/_heap.py): freed blocks go back to the OS.

Each case runs in a fresh interpreter: glibc's mmap threshold is process-wide and stays set.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="glibc's malloc tunables",
)

# Allocate, write and free a 16 MiB block twice; print how much anonymous memory the process
# still holds afterwards. glibc maps the first one (over its initial 128 KiB threshold),
# then raises the threshold to 16 MiB when it is freed: the second comes from the heap and
# stays resident after its free, unless the threshold is kept. (16 MiB: far above what the
# interpreter's own allocations can move in between.)
SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import fouryousee_data.cache as cache

    def anon():
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("RssAnon:")) * 1024

    if sys.argv[1] == "spill":  # what a streaming fetch makes first
        import tempfile
        cache.DaySpill(tempfile.mkdtemp(), [], write=lambda day, table: 0).commit()
    print(cache.bound_heap() if sys.argv[1] != "default" else None)
    cache.release_memory()
    before = anon()
    for _ in range(2):
        block = np.ones(2 << 20)  # 16 MiB, every page written
        del block
    print(anon() - before)
    """
)


def run(mode: str, **env: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=True,
    )
    bound, kept = out.stdout.split()
    return bound, int(kept)


@glibc
def test_bound_heap_gives_freed_blocks_back_to_the_os() -> None:
    bound, kept = run("bound")
    assert bound == "True"
    assert kept < 6 << 20, kept


@glibc
def test_a_streaming_fetch_bounds_the_heap() -> None:
    bound, kept = run("spill")
    assert bound == "True"
    assert kept < 6 << 20, kept


@glibc
def test_without_it_glibc_keeps_a_freed_block_resident() -> None:
    # what bound_heap is for (and proof that the test above can fail)
    bound, kept = run("default")
    assert bound == "None"
    assert kept > 12 << 20, kept


@glibc
def test_a_threshold_set_in_the_environment_is_left_alone() -> None:
    bound, _ = run("bound", MALLOC_MMAP_THRESHOLD_="1048576")
    assert bound == "False"
