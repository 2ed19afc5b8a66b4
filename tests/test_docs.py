"""The docs site documents every command and every public name (sqlite-utils style),
builds without a warning, and the README's set-up commands are the ones CI runs."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fouryousee_data as fy
from fouryousee_data.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_PAGE = (DOCS / "cli.md").read_text(encoding="utf-8")
ALL_PAGES = "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.rglob("*.md")))


@pytest.mark.parametrize("name", [c[0] for c in COMMANDS])
def test_every_command_is_documented(name: str) -> None:
    assert f"fouryousee-data {name}" in CLI_PAGE, f"docs/cli.md lacks 'fouryousee-data {name}'"


@pytest.mark.parametrize("name", [c[0] for c in COMMANDS])
def test_every_command_is_in_the_readme_table(name: str) -> None:
    assert re.search(rf"^\| `fouryousee-data {re.escape(name)}\b", README, re.MULTILINE), name


@pytest.mark.parametrize("name", sorted(n for n in fy.__all__ if not n.startswith("_")))
def test_every_public_name_is_in_the_docs(name: str) -> None:
    assert re.search(rf"\b{re.escape(name)}\b", ALL_PAGES), f"no page of docs/ mentions {name}"


@pytest.mark.parametrize("name", sorted(n for n in fy.__all__ if not n.startswith("_")))
def test_every_public_name_has_an_api_entry(name: str) -> None:
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    assert re.search(rf"^::: fouryousee_data\.{re.escape(name)}$", api, re.MULTILINE), name


def _ci_test_command() -> str:
    """The line of ``.ci/run`` that installs the dev extra and runs pytest."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [
        line.strip()
        for line in ci.splitlines()
        if "pip install" in line and "pytest" in line and not line.lstrip().startswith("#")
    ]
    assert len(lines) == 1, f".ci/run should hold one install-and-test line, found {lines}"
    return lines[0]


def test_set_up_commands_are_the_ones_ci_runs() -> None:
    test_cmd = _ci_test_command()
    assert test_cmd.startswith('python3 -m pip install -e ".[dev]" && python3 -m pytest')
    assert test_cmd in README
    assert "python3 -m pip install -e . && fouryousee-data demo" in README
    assert "python3 -m venv .venv && . .venv/bin/activate" in README
    assert "Python ≥ 3.11" in README


def test_readme_is_a_doorway() -> None:
    size = len(README.encode("utf-8"))
    assert size <= 10 * 1024, f"README.md is {size} bytes; move details into docs/"
    assert "Settings > API" in README and "FOURYOUSEE_TOKEN" in README
    assert "mkdocs serve" in README
    for link in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (ROOT / link).is_file(), f"README links to a missing {link}"


@pytest.mark.slow
def test_the_site_builds_without_warnings(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a broken link, anchor or docstring fails the suite."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # no end-of-life banner
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "cli" / "index.html").is_file()


PACKAGE_FILES = sorted(
    str(p.relative_to(ROOT / "fouryousee_data"))
    for p in (ROOT / "fouryousee_data").rglob("*.py")
    if p.name != "__main__.py"
)


@pytest.mark.parametrize("path", PACKAGE_FILES)
def test_internals_maps_every_module(path: str) -> None:
    """docs/internals.md names every module by its path (a subpackage by its folder)."""
    internals = (DOCS / "internals.md").read_text(encoding="utf-8")
    module = Path(path)
    name = f"{module.parent}/" if module.name == "__init__.py" and len(module.parts) > 1 else path
    assert f"`{name}`" in internals, f"{path} is missing from docs/internals.md"
