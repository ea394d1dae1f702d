"""The PlentyONE REST API, every route the connector uses, in one client.

`PlentyOneClient` is the plumbing (`plentyone_base.py`), the catalogue routes
(`plentyone_catalogue.py`) and, here, the order routes and the lookups of the integration
check. Order routes default to the "orders" priority of the rate limiter (an order never
waits behind a catalogue sync); everything else uses the priority the client was built with.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from clients.answers import load
from clients.errors import NotFound
from clients.plentyone_base import (
    BULK_LIMIT,
    MAX_PER_PAGE,
    chunks,
    drop_none,
    schema_of,
    with_param,
)
from clients.plentyone_catalogue import CatalogueRoutes
from clients.ratelimit import ORDERS
from schemas.plentyone import (
    OrderReferrerSchema,
    OrderSchema,
    OrderShippingPackageSchema,
    OrderStatusSchema,
    ReturnReasonSchema,
)

ORDER_WITH = ("orderItems", "addresses", "properties")
# Order property type 35: the return reason of a return order.
RETURN_REASON_PROPERTY = 35


class PlentyOneClient(CatalogueRoutes):
    """One PlentyONE system of one connection: every route; safe to share between threads."""

    # --- orders -----------------------------------------------------------------------------

    def order(self, order_id: int, with_: Sequence[str] = ORDER_WITH) -> dict[str, Any]:
        params = {"with": with_param(with_)}
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
            "with": with_param(with_),
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
        body = drop_none({"statusId": status_id, "message": message})
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
        return list(
            load(schema_of(OrderShippingPackageSchema), rows, many=True, call=f"GET {path}")
        )

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
        body = drop_none(
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
        body = drop_none(
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
