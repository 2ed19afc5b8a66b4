"""The README documents every command and every public name (sqlite-utils style)."""

import re
from pathlib import Path

import pytest

import fouryousee_data as fy
from fouryousee_data.cli import COMMANDS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [c[0] for c in COMMANDS])
def test_every_command_is_documented(name: str) -> None:
    assert f"fouryousee-data {name}" in README


@pytest.mark.parametrize("name", sorted(n for n in fy.__all__ if not n.startswith("_")))
def test_every_public_name_is_in_the_readme(name: str) -> None:
    assert re.search(rf"\b{re.escape(name)}\b", README), name


def test_set_up_commands_are_the_ones_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    test_cmd = 'python3 -m pip install -e ".[dev]" && python3 -m pytest'
    assert test_cmd in README
    assert test_cmd in ci
    assert "python3 -m pip install -e . && fouryousee-data demo" in README
