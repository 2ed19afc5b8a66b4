"""Root pytest configuration.

Docstring examples that need a live account or a running server are marked
``# doctest: +SKIP``; a docstring whose examples are *all* such is not a test,
so it is deselected instead of being reported as a skipped test. Every other
example runs as a doctest.

Speed (see docs/internals.md, "The test suite"): ``-n auto`` (pyproject's addopts)
means two xdist workers per core; tests marked ``slow`` are handed out first, one at
a time (``--dist loadgroup``), so that the long ones overlap with everything else
instead of finishing alone at the end; the others follow in an order that looks
random but is the same every run (``spread``), so that the tests that wait do not all
wait at once; the tests that use the session's servers (``dask_cluster``,
``s3_endpoint``) run on one worker, which starts them once.

Hypothesis runs derandomized (the ``suite`` profile): every run tries the same
examples, so a property test cannot pass in one run and fail in the next.
``--hypothesis-profile=explore`` draws new random examples (to hunt for bugs).
"""

from __future__ import annotations

import doctest
import os
import zlib

import pytest
from _pytest.doctest import DoctestItem
from hypothesis import settings

# the same examples every run (no flake from a lucky draw) and no database of past failures
# carried between runs; "explore": new random examples and the example database
settings.register_profile("suite", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("suite")

#: ``-n auto``: workers per core. About half of the suite's time is waiting, not computing
#: (real-second pacing, report delays, subprocesses, servers, notebook kernels): a second
#: worker per core fills those waits.
WORKERS_PER_CORE = 2

#: ``-n auto`` never starts more workers than this: each one costs ~10 s of CPU to import
#: and collect the suite, and beyond it the longest tests bound the wall time anyway.
MAX_WORKERS = 8


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """The number of workers ``-n auto`` starts (``PYTEST_XDIST_AUTO_NUM_WORKERS`` wins)."""
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if chosen.isdigit():
        return int(chosen)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(WORKERS_PER_CORE * (cores or 1), MAX_WORKERS)


def _all_examples_skipped(item: pytest.Item) -> bool:
    if not isinstance(item, DoctestItem) or item.dtest is None:
        return False
    examples = item.dtest.examples
    return bool(examples) and all(ex.options.get(doctest.SKIP) for ex in examples)


#: Session fixtures that start servers (a LocalCluster, moto's S3 server): the tests that use
#: them form one xdist group, so one worker starts them instead of every worker.
SERVER_FIXTURES = frozenset({"dask_cluster", "s3_endpoint"})


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep = [item for item in items if not _all_examples_skipped(item)]
    dropped = [item for item in items if _all_examples_skipped(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    for item in keep:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("servers"))
    # slow tests first (in the collection order); xdist hands the tests out in this order,
    # so the long ones start early on every worker; then the others, spread out
    slow = [item for item in keep if item.get_closest_marker("slow")]
    rest = [item for item in keep if not item.get_closest_marker("slow")]
    items[:] = slow + spread(rest)


def spread(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items`` in an order that looks random but is the same every run (and on every
    xdist worker): by a checksum of the test's id.

    The workers run neighbouring tests at the same time, and the tests that wait rather
    than compute (the CLI's real 1 s pacing, report polls, subprocesses) sit together in a
    few files: in the collection order all workers waited at once there, a core idle for
    ~10-20 s of a run. Spread out, one worker's wait overlaps the others' work.
    """
    return sorted(items, key=lambda item: zlib.crc32(item.nodeid.encode()))
