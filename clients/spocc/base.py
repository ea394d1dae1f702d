"""The SPoCC client's plumbing: keys, limiters, breakers, calls and pages, shared by its APIs.

Lists are iterators over SPoCC's pages (stop on `isLastPage`). "Changed since" follows the
contract's recipe: the first page's `serverTime` is the cut-off T, sent as `changedBefore`
with every following page; after a successful run, T is the next run's `changedSince`
(`Delta.cutoff`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import redis as redislib
from marshmallow import Schema

from clients.answers import schema_of
from clients.breaker import BreakerSettings, CircuitBreaker
from clients.http import HttpClient
from clients.ratelimit import CATALOGUE, ORDERS, RATELIMIT_HEADERS, LimiterSettings, RateLimiter
from clients.retry_policy import RetryPolicy, Timeouts
from clients.status import scope as key_scope
from schemas.secret import Secret
from schemas.spocc import PingSchema, page_of

CONTENT = "content-article"
STOCK = "global-stock"
TRANSACTION = "transaction-service"
PREFIXES = {
    CONTENT: "/content-article/v1",
    STOCK: "/global-stock/v1",
    TRANSACTION: "/transaction-service/v1",
}
MAX_PAGE_SIZE = 1000

def timestamp(value: datetime | str | None) -> str | None:
    """An ISO-8601 time with a zone, as the API wants it (naive datetimes are taken as UTC)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def drop_none(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class Delta:
    """Every item changed since a cut-off, page by page; `cutoff` is the next `changedSince`.

    `cutoff` is known once the first page arrived (it is that page's `serverTime`).
    """

    def __init__(
        self,
        client: SpoccBase,
        api: str,
        path: str,
        item: type[Schema],
        params: Mapping[str, Any],
        changed_since: datetime | str | None,
        page_size: int,
        priority: str | None,
    ) -> None:
        self._client = client
        self._api = api
        self._path = path
        self._item = item
        self._params = dict(params)
        self._since = timestamp(changed_since)
        self._page_size = page_size
        self._priority = priority
        self.cutoff: str | None = None
        self.total: int | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            params = dict(
                self._params,
                changedSince=self._since,
                changedBefore=self.cutoff,
                page=page,
                pageSize=self._page_size,
            )
            env = self._client.page(
                self._api, self._path, self._item, params, priority=self._priority
            )
            if page == 1:
                self.cutoff = env["serverTime"]
                self.total = env["totalCount"]
            yield from env["items"]
            if env["isLastPage"]:
                return
            page += 1


class SpoccBase:
    """One connection's SPoCC: three API keys, each with its limiter, breaker and HTTP pool.
    The API methods are in `catalogue.py` and `transactions.py`; `SpoccClient` has both."""

    def __init__(
        self,
        base_url: str,
        *,
        retailer_id: str,
        content_key: Secret,
        stock_key: Secret,
        transaction_key: Secret,
        connection_id: str | int,
        redis: redislib.Redis,
        key_prefix: str = "spocc:",
        priority: str = CATALOGUE,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        limits: LimiterSettings | None = None,
        breaker: BreakerSettings | None = None,
        acquire_timeout: float = 120.0,
        pool_size: int = 10,
    ) -> None:
        for key in (content_key, stock_key, transaction_key):
            if not isinstance(key, Secret):
                raise TypeError("API keys must be Secrets")
        self.connection_id = str(connection_id)
        self.retailer_id = str(retailer_id)
        self.priority = priority
        self._keys = {CONTENT: content_key, STOCK: stock_key, TRANSACTION: transaction_key}
        # Production allows 1,200 calls a minute per API key; headers may be absent.
        settings = limits or LimiterSettings(default_limit=1200)
        self.limiters: dict[str, RateLimiter] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self._http: dict[str, HttpClient] = {}
        for api in PREFIXES:
            scope = key_scope(key_prefix, self.connection_id, f"spocc-{api}")
            limiter = RateLimiter(redis, f"{scope}:rl", settings, headers=RATELIMIT_HEADERS)
            cb = CircuitBreaker(redis, f"{scope}:breaker", breaker)
            self.limiters[api] = limiter
            self.breakers[api] = cb
            self._http[api] = HttpClient(
                base_url,
                api=f"spocc-{api}",
                timeouts=timeouts,
                retry=retry,
                read_limiter=limiter,
                write_limiter=limiter,
                breaker=cb,
                pool_size=pool_size,
                acquire_timeout=acquire_timeout,
            )

    def close(self) -> None:
        for http in self._http.values():
            http.close()

    # --- plumbing ---------------------------------------------------------------------------

    def call(
        self,
        api: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        schema: type[Schema] | None = None,
        idempotency_key: str | None = None,
        priority: str | None = None,
    ) -> Any:
        key = self._keys[api]
        headers = {"X-Api-Key": key.reveal(), "X-Retailer-Id": self.retailer_id}
        if isinstance(params, Mapping):
            params = drop_none(params)
        return self._http[api].request(
            method,
            PREFIXES[api] + path,
            params=params,
            json=json,
            schema=schema_of(schema) if schema is not None else None,
            idempotency_key=idempotency_key,
            headers=headers,
            priority=priority or self.priority,
        )

    def page(
        self,
        api: str,
        path: str,
        item: type[Schema],
        params: Mapping[str, Any] | None = None,
        *,
        priority: str | None = None,
    ) -> dict[str, Any]:
        """One page envelope, its `items` loaded with `item`."""
        return dict(
            self.call(api, "GET", path, params=params, schema=page_of(item), priority=priority)
        )

    def pages(
        self,
        api: str,
        path: str,
        item: type[Schema],
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        priority: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            env = self.page(
                api,
                path,
                item,
                dict(params or {}, page=page, pageSize=page_size),
                priority=priority,
            )
            yield from env["items"]
            if env["isLastPage"]:
                return
            page += 1

    def ping(self, api: str) -> dict[str, Any]:
        """Checks one API's key and the Retailer ID (`spocc check`)."""
        return dict(self.call(api, "GET", "/ping", schema=PingSchema, priority=ORDERS))

    def check_credentials(self) -> dict[str, dict[str, Any]]:
        return {api: self.ping(api) for api in PREFIXES}

    def state(self) -> dict[str, Any]:
        """Breaker and rate-limit state per API, for `spocc status`."""
        return {
            api: {"breaker": self.breakers[api].state(), "rate": self.limiters[api].state()}
            for api in PREFIXES
        }
