"""The PlentyONE REST API, every route the connector uses, in one client.

Authentication (a token shared per connection), the shared rate limits (reads and writes
are separate budgets), the circuit breaker, retries and contract checks all happen below the
methods here; a method states the route, its parameters and the schema of its answer.
List routes are iterators that stop on `isLastPage`; bulk routes take any number of
records and send them in chunks of 50 (PlentyONE's cap, 51 is a 422).

Order routes default to the "orders" priority of the rate limiter (an order never waits
behind a catalogue sync); everything else uses the priority the client was built with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import redis as redislib
from marshmallow import Schema

from clients.breaker import BreakerSettings, CircuitBreaker
from clients.errors import ContractError, NotFound
from clients.http import HttpClient, RetryPolicy, Timeouts, load
from clients.ratelimit import CATALOGUE, ORDERS, LimiterSettings, RateLimiter
from clients.status import scope as key_scope
from clients.tokens import SharedToken
from schemas.plentyone import (
    AttributeSchema,
    AttributeValueSchema,
    BarcodeTypeSchema,
    CategorySchema,
    ItemImageSchema,
    ItemSchema,
    OrderReferrerSchema,
    OrderSchema,
    OrderShippingPackageSchema,
    OrderStatusSchema,
    PropertySchema,
    ReturnReasonSchema,
    SalesPriceSchema,
    TagRelationshipSchema,
    TagSchema,
    TokenSchema,
    VariationBarcodeSchema,
    VariationImageSchema,
    VariationSalesPriceSchema,
    VariationSchema,
    WarehouseSchema,
    page_of,
)
from schemas.secret import Secret

API = "plentyone"
BULK_LIMIT = 50
MAX_PER_PAGE = 250
ORDER_WITH = ("orderItems", "addresses", "properties")
# Order property type 35: the return reason of a return order.
RETURN_REASON_PROPERTY = 35

_SCHEMAS: dict[type[Schema], Schema] = {}


def _schema(cls: type[Schema]) -> Schema:
    inst = _SCHEMAS.get(cls)
    if inst is None:
        inst = _SCHEMAS[cls] = cls()
    return inst


def chunks(records: Iterable[Any], size: int = BULK_LIMIT) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _with(relations: Sequence[str] | None) -> str | None:
    return ",".join(relations) if relations else None


def _drop_none(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class PlentyOneClient:
    """One PlentyONE system of one connection; safe to share between threads of a worker."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: Secret,
        *,
        connection_id: str | int,
        redis: redislib.Redis,
        key_prefix: str = "spocc:",
        priority: str = CATALOGUE,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        read_limits: LimiterSettings | None = None,
        write_limits: LimiterSettings | None = None,
        breaker: BreakerSettings | None = None,
        acquire_timeout: float = 120.0,
        pool_size: int = 10,
    ) -> None:
        if not isinstance(password, Secret):
            raise TypeError("password must be a Secret")
        self.connection_id = str(connection_id)
        self.priority = priority
        self._username = username
        self._password = password
        scope = key_scope(key_prefix, self.connection_id, API)
        self.read_limiter = RateLimiter(
            redis, f"{scope}:rl:read", read_limits or LimiterSettings(default_limit=80)
        )
        self.write_limiter = RateLimiter(
            redis, f"{scope}:rl:write", write_limits or LimiterSettings(default_limit=40)
        )
        self.breaker = CircuitBreaker(redis, f"{scope}:breaker", breaker)
        self.http = HttpClient(
            base_url,
            api=API,
            timeouts=timeouts,
            retry=retry,
            read_limiter=self.read_limiter,
            write_limiter=self.write_limiter,
            breaker=self.breaker,
            pool_size=pool_size,
            acquire_timeout=acquire_timeout,
        )
        self.token = SharedToken(redis, f"{scope}:token", login=self._login, refresh=self._refresh)

    def close(self) -> None:
        self.http.close()

    def state(self) -> dict[str, Any]:
        """Breaker and rate-limit state of this connection's PlentyONE API (`spocc status`)."""
        return {
            "breaker": self.breaker.state(),
            "reads": self.read_limiter.state(),
            "writes": self.write_limiter.state(),
        }

    # --- plumbing ---------------------------------------------------------------------------

    def _login(self) -> dict[str, Any]:
        return dict(
            self.http.request(
                "POST",
                "/rest/login",
                json={"username": self._username, "password": self._password.reveal()},
                schema=_schema(TokenSchema),
                priority=ORDERS,
            )
        )

    def _refresh(self, refresh_token: str) -> dict[str, Any]:
        return dict(
            self.http.request(
                "POST",
                "/rest/login/refresh",
                json={"refresh_token": refresh_token},
                schema=_schema(TokenSchema),
                priority=ORDERS,
            )
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        schema: type[Schema] | None = None,
        many: bool = False,
        priority: str | None = None,
        expect_body: bool = True,
    ) -> Any:
        """One authenticated call; a 401 renews the shared token once and repeats the call."""
        used: list[str] = []

        def auth() -> dict[str, str]:
            token = self.token.get()
            used.append(token)
            return {"Authorization": f"Bearer {token}"}

        def refused() -> None:
            self.token.refused(used[-1] if used else "")

        return self.http.request(
            method,
            path,
            params=_drop_none(params) if params else None,
            json=json,
            schema=_schema(schema) if schema is not None else None,
            many=many,
            headers=auth,
            on_unauthorized=refused,
            priority=priority or self.priority,
            expect_body=expect_body,
        )

    def pages(
        self,
        path: str,
        entry: type[Schema],
        params: Mapping[str, Any] | None = None,
        *,
        items_per_page: int = MAX_PER_PAGE,
        priority: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every entry of a paginated list, page by page, until `isLastPage`."""
        page = 1
        while True:
            query = dict(params or {}, page=page, itemsPerPage=items_per_page)
            env = self.call("GET", path, params=query, schema=page_of(entry), priority=priority)
            yield from env["entries"]
            if env["isLastPage"]:
                return
            last = env.get("lastPageNumber")
            if last is not None and page >= last:
                raise ContractError(
                    f"GET {path}: page {page} of {last} is not marked isLastPage",
                    api=API,
                    method="GET",
                    path=path,
                )
            page += 1

    def _collection(
        self, path: str, entry: type[Schema], params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """A route documented as a Collection: a JSON array, or one or more envelopes."""
        raw = self.call("GET", path, params=params)
        call = f"GET {path}"
        if isinstance(raw, list):
            return list(load(_schema(entry), raw, many=True, call=call, api=API))
        if isinstance(raw, dict) and "entries" in raw:
            env = load(_schema(page_of(entry)), raw, many=False, call=call, api=API)
            if env["isLastPage"]:
                return list(env["entries"])
            return list(self.pages(path, entry, params))
        raise ContractError(f"{call}: <body>: expected a list or a page envelope", api=API)

    def _bulk(self, method: str, path: str, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for batch in chunks(records):
            answer = self.call(method, path, json=batch, expect_body=False)
            if isinstance(answer, list):
                out.extend(answer)
            elif isinstance(answer, dict) and isinstance(answer.get("entries"), list):
                out.extend(answer["entries"])
        return out

    # --- items and variations ---------------------------------------------------------------

    def create_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /rest/items`, with its first variation in `variations[]`."""
        return dict(self.call("POST", "/rest/items", json=dict(item), schema=ItemSchema))

    def add_variation(self, item_id: int, variation: Mapping[str, Any]) -> dict[str, Any]:
        return dict(
            self.call(
                "POST",
                f"/rest/items/{int(item_id)}/variations",
                json=dict(variation),
                schema=VariationSchema,
            )
        )

    def variations(
        self,
        *,
        ids: Sequence[int] | None = None,
        number_exact: str | None = None,
        barcode: str | None = None,
        variation_tag_id: int | None = None,
        item_id: int | None = None,
        updated_between: str | None = None,
        is_active: bool | None = None,
        with_: Sequence[str] | None = None,
        items_per_page: int = MAX_PER_PAGE,
    ) -> Iterator[dict[str, Any]]:
        """`GET /rest/items/variations` with its filters; `with_` e.g. ("variationBarcodes",)."""
        params = {
            "id": ",".join(str(int(i)) for i in ids) if ids else None,
            "numberExact": number_exact,
            "barcode": barcode,
            "variationTagId": variation_tag_id,
            "itemId": item_id,
            "updatedBetween": updated_between,
            "isActive": None if is_active is None else str(is_active).lower(),
            "with": _with(with_),
        }
        return self.pages(
            "/rest/items/variations", VariationSchema, params, items_per_page=items_per_page
        )

    def variation_by_number(
        self, number: str, with_: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        return next(iter(self.variations(number_exact=number, with_=with_)), None)

    def variation_by_barcode(
        self, code: str, with_: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        return next(iter(self.variations(barcode=code, with_=with_)), None)

    def item_variations(
        self, item_id: int, with_: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        return self.pages(
            f"/rest/items/{int(item_id)}/variations", VariationSchema, {"with": _with(with_)}
        )

    def update_variations(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """`PUT /rest/items/variations`, each record with `id` (and `itemId`), 50 per call."""
        return self._bulk("PUT", "/rest/items/variations", records)

    def variation_stock(self, variation_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Current stock per warehouse of the given variations (`with=stock`)."""
        out: dict[int, list[dict[str, Any]]] = {int(v): [] for v in variation_ids}
        for batch in chunks(variation_ids, MAX_PER_PAGE):
            for variation in self.variations(ids=batch, with_=("stock",)):
                out[variation["id"]] = list(variation.get("stock") or [])
        return out

    # --- barcodes ---------------------------------------------------------------------------

    def barcode_types(self) -> list[dict[str, Any]]:
        return list(self.pages("/rest/items/barcodes", BarcodeTypeSchema))

    def variation_barcodes(self, item_id: int, variation_id: int) -> list[dict[str, Any]]:
        path = f"/rest/items/{int(item_id)}/variations/{int(variation_id)}/variation_barcodes"
        return list(self.call("GET", path, schema=VariationBarcodeSchema, many=True))

    def add_variation_barcode(
        self, item_id: int, variation_id: int, barcode_id: int, code: str
    ) -> dict[str, Any]:
        path = f"/rest/items/{int(item_id)}/variations/{int(variation_id)}/variation_barcodes"
        body = {"barcodeId": int(barcode_id), "variationId": int(variation_id), "code": code}
        return dict(self.call("POST", path, json=body, schema=VariationBarcodeSchema))

    # --- sales prices -----------------------------------------------------------------------

    def sales_prices(self) -> list[dict[str, Any]]:
        return list(self.pages("/rest/items/sales_prices", SalesPriceSchema))

    def variation_sales_prices(
        self, *, variation_id: int | None = None, sales_price_id: int | None = None
    ) -> Iterator[dict[str, Any]]:
        return self.pages(
            "/rest/items/variations/variation_sales_prices",
            VariationSalesPriceSchema,
            {"variationId": variation_id, "salesPriceId": sales_price_id},
        )

    def set_variation_sales_prices(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """`PUT .../variation_sales_prices`: `{variationId, salesPriceId, price}`, 50 per call."""
        return self._bulk("PUT", "/rest/items/variations/variation_sales_prices", records)

    def create_variation_sales_prices(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        return self._bulk("POST", "/rest/items/variations/variation_sales_prices", records)

    # --- properties, categories, attributes, tags -------------------------------------------

    def properties(self) -> list[dict[str, Any]]:
        return self._collection("/rest/properties", PropertySchema)

    def set_variation_properties(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        return self._bulk("PUT", "/rest/items/variations/variation_properties", records)

    def create_variation_properties(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        return self._bulk("POST", "/rest/items/variations/variation_properties", records)

    def categories(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """`GET /rest/categories`; filters as documented (`type`, `parentId`, `name`, ...)."""
        return self.pages("/rest/categories", CategorySchema, filters)

    def create_category(self, category: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`POST /rest/categories` answers the created categories as a list."""
        answer = self.call("POST", "/rest/categories", json=dict(category))
        rows = answer if isinstance(answer, list) else [answer]
        return list(load(_schema(CategorySchema), rows, many=True, call="POST /rest/categories"))

    def link_variation_categories(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """`POST .../variation_categories`: `{variationId, categoryId}`, 50 per call."""
        return self._bulk("POST", "/rest/items/variations/variation_categories", records)

    def attributes(self) -> list[dict[str, Any]]:
        return list(self.pages("/rest/items/attributes", AttributeSchema))

    def create_attribute(self, backend_name: str, position: int = 0) -> dict[str, Any]:
        body = {"backendName": backend_name, "position": position}
        return dict(self.call("POST", "/rest/items/attributes", json=body, schema=AttributeSchema))

    def attribute_values(self, attribute_id: int) -> list[dict[str, Any]]:
        path = f"/rest/items/attributes/{int(attribute_id)}/values"
        return list(self.pages(path, AttributeValueSchema))

    def create_attribute_value(
        self, attribute_id: int, backend_name: str, position: int = 0
    ) -> dict[str, Any]:
        path = f"/rest/items/attributes/{int(attribute_id)}/values"
        body = {"backendName": backend_name, "position": position}
        return dict(self.call("POST", path, json=body, schema=AttributeValueSchema))

    def tags(self) -> list[dict[str, Any]]:
        return self._collection("/rest/tags", TagSchema)

    def create_tag(self, name: str, color: str | None = None) -> dict[str, Any]:
        body = _drop_none({"tagName": name, "color": color})
        return dict(self.call("POST", "/rest/tags", json=body, schema=TagSchema))

    def tag_relationships(
        self, *, tag_id: int | None = None, tag_type: str | None = "variation"
    ) -> list[dict[str, Any]]:
        return self._collection(
            "/rest/tags/relationships",
            TagRelationshipSchema,
            _drop_none({"tagId": tag_id, "tagType": tag_type}),
        )

    def tag_variation(self, tag_id: int, variation_id: int) -> dict[str, Any]:
        body = {"tagId": int(tag_id), "tagType": "variation", "relationshipValue": variation_id}
        return dict(
            self.call("POST", "/rest/tags/relationships", json=body, schema=TagRelationshipSchema)
        )

    # --- images -----------------------------------------------------------------------------

    def upload_image(
        self,
        item_id: int,
        *,
        upload_url: str | None = None,
        image_data_base64: str | None = None,
        file_type: str = "png",
        position: int = 0,
        file_name: str | None = None,
        names: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """`POST /rest/items/{id}/images/upload` from a URL or base64 bytes."""
        if (upload_url is None) == (image_data_base64 is None):
            raise ValueError("give exactly one of upload_url and image_data_base64")
        body = _drop_none(
            {
                "itemId": int(item_id),
                "uploadUrl": upload_url,
                "uploadImageData": image_data_base64,
                "fileType": file_type,
                "uploadFileName": file_name,
                "position": position,
                "names": list(names) if names else None,
            }
        )
        path = f"/rest/items/{int(item_id)}/images/upload"
        return dict(self.call("POST", path, json=body, schema=ItemImageSchema))

    def link_variation_image(
        self, item_id: int, variation_id: int, image_id: int
    ) -> dict[str, Any]:
        path = f"/rest/items/{int(item_id)}/variations/{int(variation_id)}/variation_images"
        body = {"imageId": int(image_id), "itemId": int(item_id), "variationId": int(variation_id)}
        return dict(self.call("POST", path, json=body, schema=VariationImageSchema))

    def variation_images(self, item_id: int, variation_id: int) -> list[dict[str, Any]]:
        path = f"/rest/items/{int(item_id)}/variations/{int(variation_id)}/variation_images"
        raw = self.call("GET", path)
        rows = raw if isinstance(raw, list) else raw.get("entries", [raw]) if raw else []
        return list(load(_schema(VariationImageSchema), rows, many=True, call=f"GET {path}"))

    # --- stock ------------------------------------------------------------------------------

    def warehouses(self) -> list[dict[str, Any]]:
        return self._collection("/rest/stockmanagement/warehouses", WarehouseSchema)

    def correct_stock(self, warehouse_id: int, corrections: Iterable[Mapping[str, Any]]) -> int:
        """Set absolute quantities: `{variationId, quantity, storageLocationId, reasonId}`.

        Sent 50 corrections per call; returns the number sent.
        """
        path = f"/rest/stockmanagement/warehouses/{int(warehouse_id)}/stock/correction"
        sent = 0
        for batch in chunks(corrections):
            self.call("PUT", path, json={"corrections": batch}, expect_body=False)
            sent += len(batch)
        return sent

    # --- orders -----------------------------------------------------------------------------

    def order(self, order_id: int, with_: Sequence[str] = ORDER_WITH) -> dict[str, Any]:
        params = {"with": _with(with_)}
        return dict(
            self.call(
                "GET",
                f"/rest/orders/{int(order_id)}",
                params=params,
                schema=OrderSchema,
                priority=ORDERS,
            )
        )

    def search_orders(
        self,
        *,
        status_id: float | None = None,
        referrer_id: float | None = None,
        order_type_id: int | None = None,
        updated_at: str | None = None,
        with_: Sequence[str] | None = None,
        items_per_page: int = 50,
        **filters: Any,
    ) -> Iterator[dict[str, Any]]:
        params = {
            "statusId": _num(status_id),
            "referrerId": _num(referrer_id),
            "orderTypeId": order_type_id,
            "updatedAt": updated_at,
            "with": _with(with_),
            **filters,
        }
        return self.pages(
            "/rest/orders/search",
            OrderSchema,
            params,
            items_per_page=items_per_page,
            priority=ORDERS,
        )

    def update_order(
        self,
        order_id: int,
        *,
        status_id: float | None = None,
        properties: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """`PUT /rest/orders/{id}`: a status and/or order properties `{typeId, value}`."""
        body: dict[str, Any] = {}
        if status_id is not None:
            body["statusId"] = status_id
        if properties:
            body["properties"] = [dict(p) for p in properties]
        if not body:
            raise ValueError("nothing to update")
        return dict(
            self.call(
                "PUT",
                f"/rest/orders/{int(order_id)}",
                json=body,
                schema=OrderSchema,
                priority=ORDERS,
            )
        )

    def set_order_status(self, order_id: int, status_id: float) -> dict[str, Any]:
        return self.update_order(order_id, status_id=status_id)

    def cancel_order(
        self, order_id: int, status_id: float | None = None, message: str | None = None
    ) -> Any:
        body = _drop_none({"statusId": status_id, "message": message})
        return self.call(
            "PUT",
            f"/rest/orders/{int(order_id)}/cancel",
            json=body,
            priority=ORDERS,
            expect_body=False,
        )

    def shipping_packages(self, order_id: int) -> list[dict[str, Any]]:
        path = f"/rest/orders/{int(order_id)}/shipping/packages"
        raw = self.call("GET", path, priority=ORDERS)
        rows = raw if isinstance(raw, list) else raw.get("entries", []) if raw else []
        return list(load(_schema(OrderShippingPackageSchema), rows, many=True, call=f"GET {path}"))

    def add_shipping_package(
        self,
        order_id: int,
        package_number: str,
        *,
        package_id: int | None = None,
        weight: int | None = None,
    ) -> dict[str, Any]:
        """The tracking number goes to PlentyONE as a shipping package's `packageNumber`."""
        path = f"/rest/orders/{int(order_id)}/shipping/packages"
        body = _drop_none(
            {"packageNumber": package_number, "packageId": package_id, "weight": weight}
        )
        return dict(
            self.call("POST", path, json=body, schema=OrderShippingPackageSchema, priority=ORDERS)
        )

    def create_return(
        self,
        order_id: int,
        quantities: Sequence[Mapping[str, Any]],
        *,
        status_id: float | None = None,
        warehouse_id: int | None = None,
        return_package_number: str | None = None,
    ) -> dict[str, Any]:
        """`POST /rest/orders/{id}/returns`: a return order (type 3) from its parent order."""
        body = _drop_none(
            {
                "quantities": [dict(q) for q in quantities],
                "statusId": status_id,
                "warehouseId": warehouse_id,
                "returnPackageNumber": return_package_number,
            }
        )
        return dict(
            self.call(
                "POST",
                f"/rest/orders/{int(order_id)}/returns",
                json=body,
                schema=OrderSchema,
                priority=ORDERS,
            )
        )

    # --- lookups (the integration check) ----------------------------------------------------

    def referrers(self) -> list[dict[str, Any]]:
        return self._collection("/rest/orders/referrers", OrderReferrerSchema)

    def order_statuses(self) -> list[dict[str, Any]]:
        return list(self.pages("/rest/orders/statuses", OrderStatusSchema))

    def return_reasons(self) -> list[dict[str, Any]]:
        return self._collection("/rest/returns/reasons", ReturnReasonSchema)

    def check_credentials(self) -> None:
        """Log in (or reuse the shared token) and make one cheap authenticated read."""
        self.token.get()
        self.call("GET", "/rest/stockmanagement/warehouses", priority=ORDERS)

    def exists(self, fetch: Any, ident: Any, key: str = "id") -> bool:
        """Whether a lookup (e.g. `self.warehouses`) lists `ident`; ids compared as numbers."""
        target = _as_number(ident)
        return any(_as_number(row.get(key)) == target for row in fetch())


def _num(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


def _as_number(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


__all__ = ["BULK_LIMIT", "MAX_PER_PAGE", "NotFound", "PlentyOneClient", "chunks"]
