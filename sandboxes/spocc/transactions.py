"""Transaction Service API: orders with their stock reservation, payments, shipping documents,
returns, cancellation, status, and lookup by PlentyONE order id. Each effect is written to the
ledger with the idempotency key it came with."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from sandboxes.spocc.api import api_blueprint
from sandboxes.spocc.auth import TRANSACTION_SERVICE, Credentials, RateLimiter
from sandboxes.spocc.errors import ApiError
from sandboxes.spocc.idempotency import idempotent, json_body
from sandboxes.spocc.params import (
    envelope,
    iso,
    now,
    optional_int_arg,
    page_args,
    paged_list,
    timestamp_arg,
)
from sandboxes.spocc.state import REFERRERS, RETURN_REASONS, STATUS_NAMES, Order, SpoccState
from sandboxes.spocc.validation import SPOCC_ID, Fields, address, undeliverable_fields

PREFIX = "/transaction-service/v1"

MAX_LINES = 500
DOCUMENT_TYPES = ("delivery_note", "invoice", "shipping_label")
CANCEL_REFUSED = (4, 7, 18)


def order_json(order: Order) -> dict[str, Any]:
    return {
        "spoccOrderId": order.spocc_order_id,
        "plentyOrderId": order.plenty_order_id,
        "status": order.status,
        "statusName": STATUS_NAMES[order.status],
        "channelStore": order.channel_store,
        "referrerId": order.referrer_id,
        "currency": order.currency,
        "orderDate": iso(order.order_date),
        "lines": [dict(line) for line in order.lines],
        "billingAddress": dict(order.billing_address),
        "shippingAddress": dict(order.shipping_address),
        "reservation": {
            "reservationId": order.reservation_id,
            "released": order.reservation_released,
            "lines": [
                {"spoccId": s, "channelStore": order.channel_store, "quantity": q}
                for s, q in order.reserved_quantities().items()
            ],
        },
        "payments": [dict(p) for p in order.payments],
        "shippingDocuments": [dict(d) for d in order.shipping_documents],
        "returns": [dict(r) for r in order.returns],
        "tracking": dict(order.tracking) if order.tracking else None,
        "cancellation": dict(order.cancellation) if order.cancellation else None,
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
    }


def status_json(order: Order) -> dict[str, Any]:
    tracking = order.tracking or {}
    return {
        "spoccOrderId": order.spocc_order_id,
        "plentyOrderId": order.plenty_order_id,
        "status": order.status,
        "statusName": STATUS_NAMES[order.status],
        "trackingNumber": tracking.get("trackingNumber"),
        "carrier": tracking.get("carrier"),
        "updatedAt": iso(order.updated_at),
    }


def release_reservation(state: SpoccState, order: Order) -> None:
    """Give the order's reserved stock back (caller holds the lock)."""
    if order.reservation_released:
        return
    moment = now()
    for spocc_id, quantity in order.reserved_quantities().items():
        index = state.catalogue.index_of(spocc_id)
        if index is None:
            continue
        key = (index, order.channel_store)
        state.reserved[key] = max(0, state.reserved.get(key, 0) - quantity)
        state.touch(index, moment)
    order.reservation_released = True


def transactions_blueprint(
    state: SpoccState, credentials: Credentials, limiter: RateLimiter
) -> Blueprint:
    bp = api_blueprint("transaction_service", PREFIX, TRANSACTION_SERVICE, credentials, limiter)
    catalogue = state.catalogue
    once = idempotent(state, credentials.retailer_id)
    referrer_ids = {r for r, _ in REFERRERS}
    reason_ids = {r for r, _ in RETURN_REASONS}

    def find(spocc_order_id: str) -> Order:
        order = state.orders.get(spocc_order_id)
        if order is None:
            raise ApiError(404, "not_found", f"no order {spocc_order_id}")
        return order

    def not_cancelled(order: Order) -> None:
        if order.status == 9:
            raise ApiError(422, "order_cancelled", "the order is cancelled",
                           {"spoccOrderId": order.spocc_order_id})

    @bp.post("/orders")
    @once
    def register_order(idem_key: str) -> tuple[Any, int]:
        fields = Fields()
        body = fields.object(json_body())
        plenty_id = fields.integer(body, "plentyOrderId")
        store = fields.integer(body, "channelStore")
        referrer = fields.integer(body, "referrerId")
        currency = fields.string(body, "currency", required=False, max_length=3) or "EUR"
        order_date = fields.timestamp(body, "orderDate")
        raw_lines = body.get("lines")
        lines: list[dict[str, Any]] = []
        if not isinstance(raw_lines, list) or not 1 <= len(raw_lines) <= MAX_LINES:
            fields.add("lines", f"must be a list of 1 to {MAX_LINES} lines")
        else:
            for n, raw in enumerate(raw_lines):
                path = f"lines[{n}]"
                if not isinstance(raw, dict):
                    fields.add(path, "must be an object")
                    continue
                spocc_id = fields.string(raw, "spoccId", path=f"{path}.spoccId")
                if spocc_id is not None and not SPOCC_ID.match(spocc_id):
                    fields.add(f"{path}.spoccId", "must be exactly 11 digits")
                quantity = raw.get("quantity")
                if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                    fields.add(f"{path}.quantity", "must be an integer of at least 1")
                price = fields.money(raw, "price", path=f"{path}.price")
                lines.append({"lineNumber": n + 1, "spoccId": spocc_id, "quantity": quantity,
                              "price": price, "returnedQuantity": 0})
        billing = address(body.get("billingAddress"), "billingAddress", fields)
        raw_shipping = body.get("shippingAddress")
        shipping = None if raw_shipping is None else address(raw_shipping, "shippingAddress",
                                                              fields)
        fields.raise_if_any()
        assert plenty_id is not None and store is not None and referrer is not None
        assert billing is not None
        if store not in catalogue.channel_stores:
            raise ApiError(422, "unknown_channel_store", f"no channel store {store}",
                           {"channelStore": store})
        if referrer not in referrer_ids:
            raise ApiError(422, "unknown_referrer", f"no referrer {referrer}",
                           {"referrerId": referrer})
        for name, addr in (("billingAddress", billing), ("shippingAddress", shipping)):
            bad = undeliverable_fields(addr) if addr is not None else []
            if bad:
                raise ApiError(422, "bad_address", f"the {name} cannot be delivered to",
                               {"address": name, "fields": bad})
        wanted: dict[str, int] = {}
        for line in lines:
            wanted[line["spoccId"]] = wanted.get(line["spoccId"], 0) + line["quantity"]
        indices = {s: catalogue.index_of(s) for s in wanted}
        unknown = sorted(s for s, i in indices.items() if i is None)
        if unknown:
            raise ApiError(422, "unknown_variation", "unknown SPoCC IDs", {"spoccIds": unknown})
        with state.lock:
            existing = state.orders_by_plenty_id.get(plenty_id)
            if existing is not None:
                raise ApiError(409, "order_exists",
                               f"PlentyONE order {plenty_id} is already registered",
                               {"spoccOrderId": existing})
            short = []
            for spocc_id, quantity in sorted(wanted.items()):
                available = state.available(indices[spocc_id] or 0, store)
                if available < quantity:
                    short.append({"spoccId": spocc_id, "requested": quantity,
                                  "available": available})
            if short:
                raise ApiError(422, "insufficient_stock",
                               f"Not enough stock in channel store {store} for "
                               f"{len(short)} line(s).",
                               {"channelStore": store, "lines": short})
            moment = now()
            for spocc_id, quantity in wanted.items():
                index = indices[spocc_id] or 0
                state.reserved[(index, store)] = state.reserved.get((index, store), 0) + quantity
                state.touch(index, moment)
            order = Order(
                spocc_order_id=state.next_id("SO"),
                plenty_order_id=plenty_id,
                channel_store=store,
                referrer_id=referrer,
                currency=currency,
                order_date=order_date or moment,
                lines=lines,
                billing_address=billing,
                shipping_address=shipping or dict(billing),
                reservation_id=state.next_id("RS"),
                created_at=moment,
                updated_at=moment,
            )
            state.orders[order.spocc_order_id] = order
            state.orders_by_plenty_id[plenty_id] = order.spocc_order_id
            answer = order_json(order)
            state.ledger_record("order.registered", idem_key, {
                "spoccOrderId": order.spocc_order_id,
                "plentyOrderId": plenty_id,
                "channelStore": store,
                "lines": [{"spoccId": s, "quantity": q} for s, q in wanted.items()],
            })
        return answer, 201

    @bp.get("/orders/<spocc_order_id>")
    def get_order(spocc_order_id: str) -> Any:
        return order_json(find(spocc_order_id))

    @bp.get("/orders/<spocc_order_id>/status")
    def get_status(spocc_order_id: str) -> Any:
        return status_json(find(spocc_order_id))

    @bp.get("/orders")
    def list_orders() -> Any:
        page, size = page_args()
        plenty_id = optional_int_arg("plentyOrderId")
        statuses = {int(s) for s in request.args.getlist("status") if s.isdigit()}
        since, before = timestamp_arg("changedSince"), timestamp_arg("changedBefore")
        if plenty_id is not None:
            found = state.orders_by_plenty_id.get(plenty_id)
            candidates = [state.orders[found]] if found else []
        else:
            candidates = sorted(list(state.orders.values()), key=lambda o: o.spocc_order_id)
        selected = [
            o for o in candidates
            if (not statuses or o.status in statuses)
            and (since is None or o.updated_at >= since)
            and (before is None or o.updated_at < before)
        ]
        start = (page - 1) * size
        return envelope(page, size, len(selected),
                        [order_json(o) for o in selected[start : start + size]])

    @bp.post("/orders/<spocc_order_id>/payments")
    @once
    def report_payment(idem_key: str, spocc_order_id: str) -> tuple[Any, int]:
        order = find(spocc_order_id)
        fields = Fields()
        body = fields.object(json_body())
        amount = fields.money(body, "amount", positive=True)
        currency = fields.string(body, "currency", required=False, max_length=3) or "EUR"
        method = fields.string(body, "method", max_length=50)
        paid_at = fields.timestamp(body, "paidAt")
        reference = fields.string(body, "reference", required=False)
        fields.raise_if_any()
        with state.lock:
            not_cancelled(order)
            moment = now()
            payment = {
                "paymentId": state.next_id("PM"),
                "amount": amount,
                "currency": currency,
                "method": method,
                "paidAt": iso(paid_at or moment),
                "reference": reference,
            }
            order.payments.append(payment)
            if order.status == 1:
                order.status = 2
            order.updated_at = moment
            state.ledger_record("order.payment", idem_key, {
                "spoccOrderId": order.spocc_order_id,
                "plentyOrderId": order.plenty_order_id,
                "paymentId": payment["paymentId"],
                "amount": amount,
            })
            return {"paymentId": payment["paymentId"], "order": order_json(order)}, 201

    @bp.post("/orders/<spocc_order_id>/shipping-documents")
    @once
    def report_shipping_documents(idem_key: str, spocc_order_id: str) -> tuple[Any, int]:
        order = find(spocc_order_id)
        fields = Fields()
        body = fields.object(json_body())
        created_at = fields.timestamp(body, "createdAt")
        raw_documents = body.get("documents")
        documents = []
        if not isinstance(raw_documents, list) or not 1 <= len(raw_documents) <= 20:
            fields.add("documents", "must be a list of 1 to 20 documents")
        else:
            for n, raw in enumerate(raw_documents):
                path = f"documents[{n}]"
                if not isinstance(raw, dict):
                    fields.add(path, "must be an object")
                    continue
                kind = fields.string(raw, "type", path=f"{path}.type")
                if kind is not None and kind not in DOCUMENT_TYPES:
                    fields.add(f"{path}.type", f"must be one of {', '.join(DOCUMENT_TYPES)}")
                number = fields.string(raw, "number", path=f"{path}.number")
                url = fields.string(raw, "url", required=False, max_length=2000,
                                    path=f"{path}.url")
                documents.append({"type": kind, "number": number, "url": url})
        fields.raise_if_any()
        with state.lock:
            not_cancelled(order)
            moment = now()
            record = {
                "shippingDocumentsId": state.next_id("SD"),
                "documents": documents,
                "createdAt": iso(created_at or moment),
            }
            order.shipping_documents.append(record)
            if order.status in (1, 2):
                order.status = 3
            order.updated_at = moment
            state.ledger_record("order.shipping_documents", idem_key, {
                "spoccOrderId": order.spocc_order_id,
                "plentyOrderId": order.plenty_order_id,
                "shippingDocumentsId": record["shippingDocumentsId"],
                "documents": [d["number"] for d in documents],
            })
            return {"shippingDocumentsId": record["shippingDocumentsId"],
                    "order": order_json(order)}, 201

    @bp.post("/orders/<spocc_order_id>/returns")
    @once
    def register_return(idem_key: str, spocc_order_id: str) -> tuple[Any, int]:
        order = find(spocc_order_id)
        fields = Fields()
        body = fields.object(json_body())
        reason = fields.integer(body, "reasonId")
        plenty_return_id = fields.integer(body, "plentyReturnOrderId", required=False)
        raw_lines = body.get("lines")
        wanted: dict[str, int] = {}
        if not isinstance(raw_lines, list) or not 1 <= len(raw_lines) <= MAX_LINES:
            fields.add("lines", f"must be a list of 1 to {MAX_LINES} lines")
        else:
            for n, raw in enumerate(raw_lines):
                path = f"lines[{n}]"
                if not isinstance(raw, dict):
                    fields.add(path, "must be an object")
                    continue
                spocc_id = fields.string(raw, "spoccId", path=f"{path}.spoccId")
                quantity = raw.get("quantity")
                if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                    fields.add(f"{path}.quantity", "must be an integer of at least 1")
                elif spocc_id is not None:
                    wanted[spocc_id] = wanted.get(spocc_id, 0) + quantity
        fields.raise_if_any()
        if reason not in reason_ids:
            raise ApiError(422, "unknown_return_reason", f"no return reason {reason}",
                           {"reasonId": reason})
        with state.lock:
            not_cancelled(order)
            ordered: dict[str, int] = {}
            returned: dict[str, int] = {}
            for line in order.lines:
                ordered[line["spoccId"]] = ordered.get(line["spoccId"], 0) + line["quantity"]
                returned[line["spoccId"]] = (
                    returned.get(line["spoccId"], 0) + line["returnedQuantity"]
                )
            excess = [
                {"spoccId": s, "ordered": ordered.get(s, 0), "alreadyReturned": returned.get(s, 0),
                 "requested": q}
                for s, q in sorted(wanted.items())
                if returned.get(s, 0) + q > ordered.get(s, 0)
            ]
            if excess:
                raise ApiError(422, "return_exceeds_order",
                               "more returned than ordered", {"lines": excess})
            for spocc_id, quantity in wanted.items():
                left = quantity
                for line in order.lines:  # book the return onto the order's lines in turn
                    if line["spoccId"] == spocc_id and left:
                        take = min(left, line["quantity"] - line["returnedQuantity"])
                        line["returnedQuantity"] += take
                        left -= take
            moment = now()
            record = {
                "returnId": state.next_id("RT"),
                "plentyReturnOrderId": plenty_return_id,
                "reasonId": reason,
                "lines": [{"spoccId": s, "quantity": q} for s, q in wanted.items()],
                "createdAt": iso(moment),
            }
            order.returns.append(record)
            order.status = 18
            order.updated_at = moment
            state.ledger_record("order.return", idem_key, {
                "spoccOrderId": order.spocc_order_id,
                "plentyOrderId": order.plenty_order_id,
                "returnId": record["returnId"],
                "plentyReturnOrderId": plenty_return_id,
                "reasonId": reason,
                "lines": record["lines"],
            })
            return {"returnId": record["returnId"], "order": order_json(order)}, 201

    @bp.post("/orders/<spocc_order_id>/cancellation")
    @once
    def cancel(idem_key: str, spocc_order_id: str) -> tuple[Any, int]:
        order = find(spocc_order_id)
        fields = Fields()
        body = json_body()
        body = {} if body is None else fields.object(body)
        reason = fields.string(body, "reason", required=False)
        fields.raise_if_any()
        with state.lock:
            if order.status == 9:
                return order_json(order), 200
            if order.status in CANCEL_REFUSED:
                raise ApiError(422, "already_processing",
                               "the store is already processing this order",
                               {"status": order.status})
            moment = now()
            release_reservation(state, order)
            order.status = 9
            order.cancellation = {"cancelledAt": iso(moment), "by": "retailer", "reason": reason}
            order.updated_at = moment
            state.ledger_record("order.cancelled", idem_key, {
                "spoccOrderId": order.spocc_order_id,
                "plentyOrderId": order.plenty_order_id,
                "by": "retailer",
            })
            return order_json(order), 200

    @bp.get("/referrers")
    def list_referrers() -> Any:
        return paged_list(REFERRERS, lambda r: {"id": r[0], "name": r[1]})

    @bp.get("/return-reasons")
    def list_return_reasons() -> Any:
        return paged_list(RETURN_REASONS, lambda r: {"id": r[0], "name": r[1]})

    return bp
