"""`POST /hooks/<connection>/<event>`: one event per URL, as PlentyONE's event procedures
(*Open URL*) or a signing relay send it. The order id comes in the body or as `?orderId=`."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import ValidationError

from receiver import accept as accepting
from receiver import intake
from receiver.auth import Unauthenticated, authenticate
from schemas.webhooks import (
    EVENTS,
    AcceptedSchema,
    WebhookEventSchema,
    WebhookQuerySchema,
)
from schemas.webhooks import (
    WebhookErrorSchema as Err,
)

hooks = Blueprint("hooks", __name__, description="Order events from PlentyONE")

EVENT_PATTERN = ", ".join(f"'{e}'" for e in EVENTS)
ROUTE = f"/hooks/<connection_id>/<any({EVENT_PATTERN}):event>"


def _doc(errors: dict[int, str]) -> Any:
    def wrap(view: Any) -> Any:
        for code, description in errors.items():
            view = hooks.alt_response(code, schema=Err, description=description)(view)
        return view
    return wrap


@hooks.route(ROUTE, methods=["POST", "PUT"])
@hooks.doc(
    description="The order id comes in the body (`orderId`, a JSON integer) or in the query "
                "(`?orderId=`, plain digits); one of the two is required, and when both "
                "are given they must be equal. Decimal ids (`statusId`, `referrerId`) are "
                "JSON numbers. Every acceptance, first or repeated, is answered 200.",
    parameters=[
        {"in": "query", "schema": WebhookQuerySchema},
        {"in": "header", "name": "webhook-id", "schema": {"type": "string"}, "required": False},
        {"in": "header", "name": "webhook-timestamp", "schema": {"type": "string"},
         "required": False},
        {"in": "header", "name": "webhook-signature", "schema": {"type": "string"},
         "required": False},
    ],
    requestBody={
        "required": False,
        "content": {"application/json": {"schema": WebhookEventSchema}},
    },
    security=[{"bearer": []}, {"queryToken": []}, {"standardWebhooks": []}],
)
@hooks.response(200, AcceptedSchema, description="accepted (also every later delivery of it)")
@_doc({400: "malformed JSON, or a body that is not UTF-8",
       401: "missing, forged or stale credentials",
       404: "unknown connection or event (the answer lists the events)",
       409: "event id reused with another body", 413: "body too large",
       415: "not application/json",
       422: "a field is wrong, missing, or given twice with two values (named)",
       503: "the event store is unavailable; retry"})
def receive(connection_id: str, event: str) -> Response:
    """Accept one order event: validate, record durably, enqueue, answer 200."""
    try:
        return _receive(connection_id, event)
    except intake.Refused as refused:
        return refused.response()


def _receive(connection_id: str, event: str) -> Response:
    conn = intake.connection(connection_id)
    raw = intake.read_body()
    if raw:
        intake.require_utf8(raw)
    try:
        authenticate(conn.webhooks, raw, dict(request.headers), request.args.get("token"))
    except Unauthenticated as exc:
        raise intake.Refused(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    data = intake.json_object(raw)
    order_id, payload = _load(data)
    webhook_id = request.headers.get("webhook-id") or None
    return intake.record(
        conn.id, event, order_id, payload,
        accepting.idempotency_key(event, order_id, webhook_id),
        accepting.request_fingerprint(event, order_id, webhook_id, raw))


# One instance each, made once: a schema's construction copies its fields, a cost every
# request paid (loading keeps no state on the instance, so threads can share them).
_QUERY = WebhookQuerySchema()
_BODY = WebhookEventSchema()


def _load(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    errors: dict[str, Any] = {}
    query: dict[str, Any] = {}
    body: dict[str, Any] = {}
    try:
        query = _QUERY.load(request.args.to_dict())
    except ValidationError as exc:
        errors["query"] = exc.messages
    try:
        body = _BODY.load(data)
    except ValidationError as exc:
        errors["json"] = exc.messages
    if errors:
        first = errors.get("json") or errors["query"]
        raise intake.Refused(422, intake.name_fields(first), errors)
    in_body: int | None = body.get("orderId")
    in_query: int | None = query.get("orderId")
    if in_body is not None and in_query is not None and in_body != in_query:
        raise intake.Refused(
            422, f"orderId: the body says {in_body}, the query {in_query}",
            {"query": {"orderId": [f"differs from the body's orderId {in_body}"]}})
    order_id = in_body if in_body is not None else in_query
    if order_id is None:
        raise intake.Refused(422, "orderId: required in the body or as ?orderId=",
                             {"json": {"orderId": ["Missing data for required field."]}})
    return order_id, {**body, "orderId": order_id}
