"""A real 4YouSee API on loopback, for the demo, the notebooks and the tests.

Layout: :mod:`.data` (the deterministic synthetic network and report files),
:mod:`.api` (the API routes), :mod:`.store` (the object store), :mod:`.faults`
(fault injection), :mod:`.webhooks` (timed jobs and webhook POSTs),
:mod:`.server` (HTTP plumbing) and :mod:`.core` (the :class:`Simulator`).

Examples
--------
>>> from fouryousee_data.simulator import Simulator
>>> with Simulator(seed=0, players=2, medias=3, report_delay=0.01) as sim:
...     sim.base_url.startswith("http://127.0.0.1:"), sim.base_url.endswith("/v1/")
(True, True)
"""

from fouryousee_data.simulator.core import Simulator
from fouryousee_data.simulator.data import Network
from fouryousee_data.simulator.faults import FAULTS
from fouryousee_data.simulator.server import RequestRecord
from fouryousee_data.simulator.webhooks import RETRY_MINUTES, WebhookDelivery

__all__ = ["FAULTS", "RETRY_MINUTES", "Network", "RequestRecord", "Simulator", "WebhookDelivery"]
