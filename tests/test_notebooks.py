"""The notebooks run top to bottom against the simulator (no token) and are committed clean."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import QUIET_CLUSTER, dask_environment

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist() -> None:
    assert [p.stem for p in NOTEBOOKS] == [
        "01-quickstart",
        "02-proof-of-play-audit",
        "03-screen-health",
        "04-a-year-of-playlogs",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_against_the_simulator(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FOURYOUSEE_TOKEN", raising=False)
    monkeypatch.delenv("FOURYOUSEE_API_URL", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # no display needed; inline still renders
    for name, value in dask_environment(QUIET_CLUSTER).items():  # a notebook's LocalCluster:
        monkeypatch.setenv(name, value)  # no profiler, slower housekeeping (as the suite's)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    output = tmp_path / "output"
    monkeypatch.setenv("FOURYOUSEE_OUTPUT_DIR", str(output))  # the notebook's files land here
    nb = nbformat.read(path, as_version=4)
    # the notebook's in-process simulator enforced the rate limit: it was never broken
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "assert sim is None or sim.rate_limit_interval > 0\n"
            "assert sim is None or sim.rate_limit_violations == [], sim.rate_limit_violations"
        )
    )
    client = NotebookClient(
        nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    texts = [
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
    ]
    assert any("plays from" in t for t in texts)  # the fetch cell reported its rows
    written = {p.name for p in output.iterdir() if p.is_file()}
    assert written & {"playlogs.parquet", "audit.pdf", "health.xlsx", "monthly-plays.png"}
    printed = "".join(texts)
    assert f"files go to {output}" in printed
    for name in written:  # the notebook says where each file it wrote is
        assert str(output / name) in printed, name
