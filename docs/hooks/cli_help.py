"""MkDocs hook: put the live ``--help`` text of the CLI into docs/cli.md.

A line ``<!-- cli-help -->`` in a page becomes the help of ``fouryousee-data``;
``<!-- cli-help: fetch -->`` the help of ``fouryousee-data fetch``. The text comes
from ``fouryousee_data.cli.build_parser()`` at build time, so the reference cannot
drift from the parser. Help is formatted at a fixed width (88 columns) so the
site does not depend on the terminal that builds it.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

MARKER = re.compile(r"^<!-- cli-help(?::\s*(?P<command>[\w-]+))? -->$", re.MULTILINE)
WIDTH = "88"


def _help(command: str | None) -> str:
    from fouryousee_data.cli import build_parser

    parser = build_parser()
    if command is not None:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if command not in sub.choices:
            raise ValueError(f"docs: no CLI command {command!r} (cli-help marker)")
        parser = sub.choices[command]
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return parser.format_help()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace each cli-help marker by a ``text`` block holding that help."""

    def block(match: re.Match[str]) -> str:
        return "```text\n" + _help(match.group("command")).rstrip() + "\n```"

    return MARKER.sub(block, markdown)
