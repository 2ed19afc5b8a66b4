"""Root pytest configuration.

Docstring examples that need a live account or a running server are marked
``# doctest: +SKIP``; a docstring whose examples are *all* such is not a test,
so it is deselected instead of being reported as a skipped test. Every other
example runs as a doctest.
"""

from __future__ import annotations

import doctest

import pytest
from _pytest.doctest import DoctestItem


def _all_examples_skipped(item: pytest.Item) -> bool:
    if not isinstance(item, DoctestItem) or item.dtest is None:
        return False
    examples = item.dtest.examples
    return bool(examples) and all(ex.options.get(doctest.SKIP) for ex in examples)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep = [item for item in items if not _all_examples_skipped(item)]
    dropped = [item for item in items if _all_examples_skipped(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
