"""The SPoCC APIs (docs/spocc-api.md): Content Article, Global Stock, Transaction Service.

One base URL, three API keys (each API accepts only its own), one Retailer ID. Every
Transaction Service `POST` carries an idempotency key, which callers derive from their own
event key: a retry after a lost answer then cannot register, pay or return twice, and this
client may repeat such a call itself after a timeout, a dropped connection or a 5xx.

Lists are iterators over SPoCC's pages (stop on `isLastPage`). "Changed since" follows the
contract's recipe: the first page's `serverTime` is the cut-off T, sent as `changedBefore`
with every following page; after a successful run, T is the next run's `changedSince`
(`Delta.cutoff`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import redis as redislib
from marshmallow import Schema

from clients.breaker import BreakerSettings, CircuitBreaker
from clients.errors import Conflict, NotFound
from clients.http import HttpClient, RetryPolicy, Timeouts
from clients.ratelimit import CATALOGUE, ORDERS, RATELIMIT_HEADERS, LimiterSettings, RateLimiter
from clients.status import scope as key_scope
from schemas.secret import Secret
from schemas.spocc import (
    ArticleSchema,
    AttributeSchema,
    ChannelStoreSchema,
    NamedSchema,
    OrderSchema,
    OrderStatusSchema,
    PaymentAnswerSchema,
    PingSchema,
    ProductGroupSchema,
    ReturnAnswerSchema,
    ShippingDocumentsAnswerSchema,
    StockSchema,
    VariationSchema,
    page_of,
)

CONTENT = "content-article"
STOCK = "global-stock"
TRANSACTION = "transaction-service"
PREFIXES = {
    CONTENT: "/content-article/v1",
    STOCK: "/global-stock/v1",
    TRANSACTION: "/transaction-service/v1",
}
MAX_PAGE_SIZE = 1000

_SCHEMAS: dict[type[Schema], Schema] = {}


def _schema(cls: type[Schema]) -> Schema:
    inst = _SCHEMAS.get(cls)
    if inst is None:
        inst = _SCHEMAS[cls] = cls()
    return inst


def timestamp(value: datetime | str | None) -> str | None:
    """An ISO-8601 time with a zone, as the API wants it (naive datetimes are taken as UTC)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _drop_none(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class Delta:
    """Every item changed since a cut-off, page by page; `cutoff` is the next `changedSince`.

    `cutoff` is known once the first page arrived (it is that page's `serverTime`).
    """

    def __init__(
        self,
        client: SpoccClient,
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


class SpoccClient:
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
            params = _drop_none(params)
        return self._http[api].request(
            method,
            PREFIXES[api] + path,
            params=params,
            json=json,
            schema=_schema(schema) if schema is not None else None,
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

    # --- Content Article API ----------------------------------------------------------------

    def articles(
        self,
        changed_since: datetime | str | None = None,
        *,
        product_group_id: int | None = None,
        page_size: int = 100,
    ) -> Delta:
        return Delta(
            self,
            CONTENT,
            "/articles",
            ArticleSchema,
            _drop_none({"productGroupId": product_group_id}),
            changed_since,
            page_size,
            None,
        )

    def article(self, article_number: str) -> dict[str, Any]:
        return dict(self.call(CONTENT, "GET", f"/articles/{article_number}", schema=ArticleSchema))

    def variations(
        self,
        changed_since: datetime | str | None = None,
        *,
        article_number: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Delta:
        return Delta(
            self,
            CONTENT,
            "/variations",
            VariationSchema,
            _drop_none({"articleNumber": article_number}),
            changed_since,
            page_size,
            None,
        )

    def variation(self, spocc_id: str) -> dict[str, Any]:
        return dict(self.call(CONTENT, "GET", f"/variations/{spocc_id}", schema=VariationSchema))

    def attributes(self) -> Iterator[dict[str, Any]]:
        return self.pages(CONTENT, "/attributes", AttributeSchema)

    def product_groups(self) -> Iterator[dict[str, Any]]:
        return self.pages(CONTENT, "/product-groups", ProductGroupSchema)

    # --- Global Stock API -------------------------------------------------------------------

    def channel_stores(self) -> Iterator[dict[str, Any]]:
        return self.pages(STOCK, "/channel-stores", ChannelStoreSchema)

    def stock(
        self,
        changed_since: datetime | str | None = None,
        *,
        channel_store: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Delta:
        """Stock per channel store and the three prices of every (changed) variation."""
        return Delta(
            self,
            STOCK,
            "/stock",
            StockSchema,
            _drop_none({"channelStore": channel_store}),
            changed_since,
            page_size,
            None,
        )

    def stock_of(self, spocc_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Stock and prices of the given variations (up to 1,000 per call)."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(spocc_ids), MAX_PAGE_SIZE):
            batch = list(spocc_ids[start : start + MAX_PAGE_SIZE])
            page = 1
            while True:
                params: list[tuple[str, Any]] = [("spoccId", s) for s in batch]
                params += [("page", page), ("pageSize", MAX_PAGE_SIZE)]
                env = self.call(STOCK, "GET", "/stock", params=params, schema=page_of(StockSchema))
                out.extend(env["items"])
                if env["isLastPage"]:
                    break
                page += 1
        return out

    def variation_stock(self, spocc_id: str) -> dict[str, Any]:
        return dict(self.call(STOCK, "GET", f"/stock/{spocc_id}", schema=StockSchema))

    # --- Transaction Service API ------------------------------------------------------------

    def register_order(self, order: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """`POST /orders`: status 1 and a stock reservation. 409 `order_exists` -> Conflict
        with `details["spoccOrderId"]` (see `order_by_plenty_id`)."""
        return dict(
            self.call(
                TRANSACTION,
                "POST",
                "/orders",
                json=dict(order),
                schema=OrderSchema,
                idempotency_key=idempotency_key,
                priority=ORDERS,
            )
        )

    def order(self, spocc_order_id: str) -> dict[str, Any]:
        return dict(
            self.call(
                TRANSACTION,
                "GET",
                f"/orders/{spocc_order_id}",
                schema=OrderSchema,
                priority=ORDERS,
            )
        )

    def order_by_plenty_id(self, plenty_order_id: int) -> dict[str, Any] | None:
        """The order registered for a PlentyONE order id, or None."""
        env = self.page(
            TRANSACTION,
            "/orders",
            OrderSchema,
            {"plentyOrderId": int(plenty_order_id)},
            priority=ORDERS,
        )
        items = env["items"]
        return dict(items[0]) if items else None

    def orders(
        self,
        changed_since: datetime | str | None = None,
        *,
        statuses: Sequence[int] | None = None,
        page_size: int = 100,
    ) -> Delta:
        params: dict[str, Any] = {}
        if statuses:
            params["status"] = [int(s) for s in statuses]
        return Delta(
            self, TRANSACTION, "/orders", OrderSchema, params, changed_since, page_size, None
        )

    def order_status(self, spocc_order_id: str) -> dict[str, Any]:
        return dict(
            self.call(
                TRANSACTION,
                "GET",
                f"/orders/{spocc_order_id}/status",
                schema=OrderStatusSchema,
            )
        )

    def report_payment(
        self, spocc_order_id: str, payment: Mapping[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        """`{amount, currency, method, paidAt?, reference?}` -> `{paymentId, order}`."""
        return dict(
            self.call(
                TRANSACTION,
                "POST",
                f"/orders/{spocc_order_id}/payments",
                json=dict(payment),
                schema=PaymentAnswerSchema,
                idempotency_key=idempotency_key,
                priority=ORDERS,
            )
        )

    def report_shipping_documents(
        self, spocc_order_id: str, documents: Mapping[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        """`{documents: [{type, number, url}], createdAt?}` -> `{shippingDocumentsId, order}`."""
        return dict(
            self.call(
                TRANSACTION,
                "POST",
                f"/orders/{spocc_order_id}/shipping-documents",
                json=dict(documents),
                schema=ShippingDocumentsAnswerSchema,
                idempotency_key=idempotency_key,
                priority=ORDERS,
            )
        )

    def register_return(
        self, spocc_order_id: str, ret: Mapping[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        """`{plentyReturnOrderId?, reasonId, lines: [{spoccId, quantity}]}` -> `{returnId, order}`
        with the order in status 18."""
        return dict(
            self.call(
                TRANSACTION,
                "POST",
                f"/orders/{spocc_order_id}/returns",
                json=dict(ret),
                schema=ReturnAnswerSchema,
                idempotency_key=idempotency_key,
                priority=ORDERS,
            )
        )

    def cancel_order(
        self, spocc_order_id: str, *, idempotency_key: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Status 9, reservation released; 422 `already_processing` once the store is at it."""
        return dict(
            self.call(
                TRANSACTION,
                "POST",
                f"/orders/{spocc_order_id}/cancellation",
                json=_drop_none({"reason": reason}),
                schema=OrderSchema,
                idempotency_key=idempotency_key,
                priority=ORDERS,
            )
        )

    def referrers(self) -> Iterator[dict[str, Any]]:
        return self.pages(TRANSACTION, "/referrers", NamedSchema)

    def return_reasons(self) -> Iterator[dict[str, Any]]:
        return self.pages(TRANSACTION, "/return-reasons", NamedSchema)

    def state(self) -> dict[str, Any]:
        """Breaker and rate-limit state per API, for `spocc status`."""
        return {
            api: {"breaker": self.breakers[api].state(), "rate": self.limiters[api].state()}
            for api in PREFIXES
        }


__all__ = ["CONTENT", "STOCK", "TRANSACTION", "Conflict", "Delta", "NotFound", "SpoccClient"]
