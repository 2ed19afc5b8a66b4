"""Progress bars that show life: a ticking clock and ``waiting=N`` while reports wait,
a download total from ``Content-Length``, rates without the waiting time."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest

import fouryousee_data as fy
from conftest import paced_client
from fouryousee_data.progress import FetchProgress
from fouryousee_data.simulator import Simulator

REPORT_DELAY = 2.5  # real seconds: the reports bar's clock must be seen moving meanwhile


def renderings(text: str, desc: str) -> list[str]:
    """Every state a bar was drawn in (tqdm rewrites its line with ``\\r``)."""
    return [part.strip() for part in re.split(r"[\r\n]", text) if part.strip().startswith(desc)]


def elapsed(rendering: str) -> int:
    """Seconds of a rendering's elapsed time (``[01:02`` -> 62)."""
    minutes, seconds = re.search(r"\[(\d+):(\d\d)", rendering).groups()  # type: ignore[union-attr]
    return int(minutes) * 60 + int(seconds)


@pytest.mark.slow
def test_fetch_progress_shows_life_while_reports_wait(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(report_delay=REPORT_DELAY)
    out = io.StringIO()
    with paced_client(sim) as client:
        df = fy.fetch_playlogs(
            "2024-03-01", "2024-03-03", client=client, cache_dir=None, progress=out,
            poll_interval=0.2,
        )  # fmt: skip
    assert len(df) > 0
    text = out.getvalue()
    reports = renderings(text, "reports:")
    waiting = [r for r in reports if "waiting=1" in r]
    # the clock moves while the report waits (ticks every second, and on every poll)
    assert len({elapsed(r) for r in waiting}) >= 2, waiting
    assert len(waiting) >= 3
    assert all("/s" not in r and "?" not in r for r in reports)  # no meaningless rate
    assert reports[-1].startswith("reports: 100%") and "waiting=0" in reports[-1]
    downloads = renderings(text, "download:")
    # the object store sent Content-Length: the bar has a total and ends full
    assert downloads[-1].startswith("download: 100%"), downloads[-1]
    # its clock ran only while downloading: the wait is not in its time (nor in its rate)
    assert elapsed(downloads[-1]) < elapsed(reports[-1]) - 1
    assert elapsed(reports[-1]) >= int(REPORT_DELAY)


def test_download_total_and_undo() -> None:
    out = io.StringIO()
    with FetchProgress(2, enabled=out, tick=0.05) as bars:
        with bars.downloading():
            bars.on_size(1000)
            bars.on_progress(600, 10)
            bars.on_progress(-600, -10)  # a broken stream, thrown away
            bars.on_size(-1000)
            bars.on_size(1000)
            bars.on_progress(1000, 20)
        assert bars.bytes.total == 1000 and bars.bytes.n == 1000 and bars.rows.n == 20
        with bars.downloading():
            bars.on_progress(500, 5)  # a file without Content-Length: the total is unknown
        assert bars.bytes.total is None and bars.bytes.n == 1500
        bars.window_done()
        bars.window_done()
    assert renderings(out.getvalue(), "reports:")[-1].startswith("reports: 100%")
    bars.close()  # idempotent


@pytest.mark.parametrize("enabled", [False])
def test_disabled_bars_do_nothing(enabled: bool) -> None:
    with FetchProgress(3, enabled=enabled) as bars:
        bars.waiting(1)
        with bars.downloading():
            bars.on_size(10)
            bars.on_progress(10, 1)
        bars.window_done()
    assert not hasattr(bars, "reports")
