"""The SPoCC APIs (docs/spocc-api.md): Content Article, Global Stock, Transaction Service.

One base URL, three API keys (each API accepts only its own), one Retailer ID. Every
Transaction Service `POST` carries an idempotency key, which callers derive from their own
event key: a retry after a lost answer then cannot register, pay or return twice, and this
client may repeat such a call itself after a timeout, a dropped connection or a 5xx.

- `base.py`: keys, limiters, breakers, one call, pages, `Delta` (a "changed since" listing);
- `catalogue.py`: articles, variations, attributes, product groups, channel stores, stock;
- `transactions.py`: orders and what happens to them.
"""

from __future__ import annotations

from clients.errors import Conflict, NotFound
from clients.spocc.base import (
    CONTENT,
    MAX_PAGE_SIZE,
    PREFIXES,
    STOCK,
    TRANSACTION,
    Delta,
    timestamp,
)
from clients.spocc.catalogue import CatalogueApi
from clients.spocc.transactions import TransactionApi


class SpoccClient(CatalogueApi, TransactionApi):
    """One connection's SPoCC, every API (see `base.SpoccBase` for its arguments)."""


__all__ = ["CONTENT", "MAX_PAGE_SIZE", "PREFIXES", "STOCK", "TRANSACTION", "Conflict", "Delta",
           "NotFound", "SpoccClient", "timestamp"]
