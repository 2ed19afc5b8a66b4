"""MkDocs hook: show the package's Sphinx-style roles as plain code in the API pages.

The docstrings cross-reference with Sphinx roles (``:func:`read_table```,
``:class:`~fouryousee_data.Client```), which mkdocstrings renders literally as
``:func:<code>read_table</code>``. This drops the role and, as Sphinx does, shortens
a ``~``-prefixed path to its last component.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):<code>(~?)([^<]*)</code>"
)


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite ``:role:<code>x</code>`` to ``<code>x</code>`` in a rendered page."""
    return ROLE.sub(_code, html)
