"""Placeholder: the streaming parser is being written (issue 2)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def read_playlogs(source: Any, *, tz: str | None = None) -> pd.DataFrame:
    """Placeholder."""
    raise NotImplementedError
