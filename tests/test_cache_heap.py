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
# still holds afterwards, and how much of the second block glibc mapped on its own (mallinfo2's
# hblkhd while it lives). glibc maps the first one when its threshold is still the initial
# 128 KiB, then raises the threshold to 16 MiB when it is freed (or the imports already raised
# it): by default the second comes from the heap, where a freed block can stay resident, unless
# the threshold is kept. (16 MiB: far above what the interpreter's own allocations move.)
SCRIPT = textwrap.dedent(
    """
    import ctypes
    import sys
    import numpy as np
    import fouryousee_data.cache as cache

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks",
                    "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Mallinfo2

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
        mapped_before = libc.mallinfo2().hblkhd
        block = np.ones(2 << 20)  # 16 MiB, every page written
        mapped = libc.mallinfo2().hblkhd - mapped_before
        del block
    print(anon() - before, mapped)
    """
)


def run(mode: str, **env: str) -> tuple[str, int, int]:
    # glibc's own defaults: no malloc settings inherited. (A distributed Nanny, such as the
    # suite's LocalCluster, sets MALLOC_TRIM_THRESHOLD_ in its process' os.environ for good;
    # any such variable turns glibc's dynamic mmap threshold off in a child.)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
        check=True,
    )
    bound, kept, mapped = out.stdout.split()
    return bound, int(kept), int(mapped)


@glibc
def test_bound_heap_gives_freed_blocks_back_to_the_os() -> None:
    bound, kept, mapped = run("bound")
    assert bound == "True"
    assert mapped >= 16 << 20, mapped  # the second block mapped on its own too
    assert kept < 6 << 20, kept


@glibc
def test_a_streaming_fetch_bounds_the_heap() -> None:
    bound, kept, mapped = run("spill")
    assert bound == "True"
    assert mapped >= 16 << 20, mapped
    assert kept < 6 << 20, kept


@glibc
def test_without_it_glibc_keeps_a_freed_block_resident() -> None:
    # what bound_heap is for (and proof that the test above can fail)
    # (whether the freed heap block then stays resident depends on where it lies in the heap,
    # which the imports decide: that it came from the heap does not)
    bound, _, mapped = run("default")
    assert bound == "None"
    assert mapped < 1 << 20, mapped  # the second 16 MiB block came from the heap


@glibc
def test_a_threshold_set_in_the_environment_is_left_alone() -> None:
    bound, _, _ = run("bound", MALLOC_MMAP_THRESHOLD_="1048576")
    assert bound == "False"
