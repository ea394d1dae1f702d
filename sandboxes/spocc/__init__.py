"""The SPoCC sandbox: docs/spocc-api.md as a real HTTP server with in-memory state.

    from sandboxes.spocc import start, create_app, DEMO_KEYS, DEMO_RETAILER_ID
    with start(variations=16_000, seed=1) as spocc:      # background thread, port 0
        spocc.url, spocc.credentials.keys["global-stock"], spocc.admin.ledger

Foreground: `python -m sandboxes.spocc --port 8082` (prints URL and demo keys).
"""

from sandboxes.spocc.app import create_app
from sandboxes.spocc.auth import (
    API_NAMES,
    CONTENT_ARTICLE,
    DEMO_KEYS,
    DEMO_RETAILER_ID,
    GLOBAL_STOCK,
    TRANSACTION_SERVICE,
    Credentials,
)
from sandboxes.spocc.runner import RunningSpocc, banner, serve, start

__all__ = [
    "API_NAMES",
    "CONTENT_ARTICLE",
    "DEMO_KEYS",
    "DEMO_RETAILER_ID",
    "GLOBAL_STOCK",
    "TRANSACTION_SERVICE",
    "Credentials",
    "RunningSpocc",
    "banner",
    "create_app",
    "serve",
    "start",
]
