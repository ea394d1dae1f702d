"""SPoCC's Transaction Service API: orders, payments, shipping documents, returns and
cancellations. Every `POST` carries the caller's idempotency key and takes the orders' reserve
of the rate budget (`ORDERS`); reads for the status poll take the client's own priority."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from marshmallow import Schema

from clients.ratelimit import ORDERS
from clients.spocc.base import TRANSACTION, Delta, SpoccBase, drop_none
from schemas.spocc import (
    NamedSchema,
    OrderSchema,
    OrderStatusSchema,
    PaymentAnswerSchema,
    ReturnAnswerSchema,
    ShippingDocumentsAnswerSchema,
)


class TransactionApi(SpoccBase):
    def _post(self, path: str, body: Mapping[str, Any], schema: type[Schema],
              idempotency_key: str) -> dict[str, Any]:
        return dict(self.call(TRANSACTION, "POST", path, json=dict(body), schema=schema,
                              idempotency_key=idempotency_key, priority=ORDERS))

    def register_order(self, order: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """`POST /orders`: status 1 and a stock reservation. 409 `order_exists` -> Conflict
        with `details["spoccOrderId"]` (see `order_by_plenty_id`)."""
        return self._post("/orders", order, OrderSchema, idempotency_key)

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
        return self._post(f"/orders/{spocc_order_id}/payments", payment, PaymentAnswerSchema,
                          idempotency_key)

    def report_shipping_documents(
        self, spocc_order_id: str, documents: Mapping[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        """`{documents: [{type, number, url}], createdAt?}` -> `{shippingDocumentsId, order}`."""
        return self._post(f"/orders/{spocc_order_id}/shipping-documents", documents,
                          ShippingDocumentsAnswerSchema, idempotency_key)

    def register_return(
        self, spocc_order_id: str, ret: Mapping[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        """`{plentyReturnOrderId?, reasonId, lines: [{spoccId, quantity}]}` -> `{returnId, order}`
        with the order in status 18."""
        return self._post(f"/orders/{spocc_order_id}/returns", ret, ReturnAnswerSchema,
                          idempotency_key)

    def cancel_order(
        self, spocc_order_id: str, *, idempotency_key: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Status 9, reservation released; 422 `already_processing` once the store is at it."""
        return self._post(f"/orders/{spocc_order_id}/cancellation", drop_none({"reason": reason}),
                          OrderSchema, idempotency_key)

    def referrers(self) -> Iterator[dict[str, Any]]:
        return self.pages(TRANSACTION, "/referrers", NamedSchema)

    def return_reasons(self) -> Iterator[dict[str, Any]]:
        return self.pages(TRANSACTION, "/return-reasons", NamedSchema)
