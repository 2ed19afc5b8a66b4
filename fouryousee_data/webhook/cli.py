"""``fouryousee-data serve-webhook``: the webhook receiver from the command line.

Listens until Ctrl-C, fills the cache with each report 4YouSee says is ready, and
prints the URL to give 4YouSee (its secret path segment from ``--path-secret`` or
``FOURYOUSEE_WEBHOOK_SECRET``).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import fouryousee_data as fy
from fouryousee_data.webhook import DEFAULT_PORT, WebhookReceiver, serve

__all__ = ["WEBHOOK_SECRET_ENV", "add_arguments", "run"]


#: Environment variable holding the webhook's secret path segment.
WEBHOOK_SECRET_ENV = "FOURYOUSEE_WEBHOOK_SECRET"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``fouryousee-data serve-webhook``."""

    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 = any free port"
    )
    p.add_argument("--path", default="/webhook", help="URL path (default /webhook)")
    p.add_argument(
        "--path-secret",
        metavar="S",
        default=None,
        help=f"secret last path segment, 16+ URL-safe characters (default ${WEBHOOK_SECRET_ENV})",
    )
    p.add_argument("--cache-dir", type=Path, default=None, help="cache directory to fill")
    p.add_argument(
        "--public-url",
        default=None,
        help="the https address of your reverse proxy or tunnel, to print the URL to give 4YouSee",
    )
    p.add_argument(
        "--url-host",
        dest="url_hosts",
        action="append",
        metavar="HOST",
        default=None,
        help="refuse bodies whose url is not on this host (repeatable; '*.amazonaws.com')",
    )


def run(args: argparse.Namespace) -> int:
    """Receive 4YouSee's webhooks until Ctrl-C, filling the cache."""

    if not logging.getLogger().handlers:  # a server's log is its output: deliveries at INFO
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    secret = args.path_secret or os.environ.get(WEBHOOK_SECRET_ENV) or None
    cache_dir = args.cache_dir if args.cache_dir is not None else fy.DEFAULT_CACHE
    client = fy.Client()

    def ready(receiver: WebhookReceiver) -> None:
        host, port = receiver.address
        print(f"listening on {host}:{port}, filling the cache in {fy.resolve_cache_dir(cache_dir)}")
        print(f"webhook URL to give 4YouSee: {receiver.url}")
        if secret is None:
            print(
                "note: no --path-secret; anyone who finds this URL can post to it (bodies are "
                "only hints, checked against the API); e.g. --path-secret "
                "\"$(python -c 'import secrets; print(secrets.token_urlsafe(24))')\""
            )
        print("Ctrl-C to stop", flush=True)

    serve(
        client,
        host=args.host,
        port=args.port,
        path=args.path,
        path_secret=secret,
        cache_dir=cache_dir,
        public_url=args.public_url,
        url_hosts=args.url_hosts,
        ready=ready,
    )
    print("webhook receiver stopped")
    return 0
