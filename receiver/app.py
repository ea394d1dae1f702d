"""The webhook receiver: `POST /hooks/<connection>/<event>` → a committed event row → a task.

Run it with `spocc webhooks [--port N]` (gunicorn). Every input gets a 4xx naming what is
wrong, never a 500: unknown connection or event 404, too large 413, not JSON 415,
malformed JSON 400, a bad field 422, bad credentials 401 (and nothing stored).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask_smorest import Api, Blueprint
from marshmallow import ValidationError
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from receiver import accept as accepting
from receiver.auth import Unauthenticated, authenticate
from schemas.config import ConnectionConfig
from schemas.webhooks import (
    EVENTS,
    AcceptedSchema,
    HealthSchema,
    WebhookEventSchema,
    WebhookQuerySchema,
)
from schemas.webhooks import (
    WebhookErrorSchema as Err,
)
from store.config_store import UnknownConnection
from workers import logs, runtime

log = logging.getLogger("spocc.receiver")

MAX_BODY = 64 * 1024

hooks = Blueprint("hooks", __name__, description="Order events from PlentyONE")
health = Blueprint("health", __name__, description="Liveness and readiness")

def _connection(connection_id: str) -> ConnectionConfig | None:
    try:
        return runtime.connection(connection_id)
    except UnknownConnection:
        return None


def error(code: int, message: str, errors: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> Response:
    from http import HTTPStatus

    body: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


EVENT_PATTERN = ", ".join(f"'{e}'" for e in EVENTS)


@hooks.route(f"/hooks/<connection_id>/<any({EVENT_PATTERN}):event>", methods=["POST", "PUT"])
@hooks.doc(
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
@hooks.response(202, AcceptedSchema, description="accepted (also every later delivery of it)")
@hooks.alt_response(400, schema=Err, description="malformed JSON")
@hooks.alt_response(401, schema=Err, description="missing, forged or stale credentials")
@hooks.alt_response(404, schema=Err, description="unknown connection or event")
@hooks.alt_response(409, schema=Err, description="event id reused with another body")
@hooks.alt_response(413, schema=Err, description="body too large")
@hooks.alt_response(415, schema=Err, description="not application/json")
@hooks.alt_response(422, schema=Err, description="a field is wrong (named)")
def receive(connection_id: str, event: str) -> Response:
    """Accept one order event: validate, record durably, enqueue, answer 202."""
    try:
        conn = _connection(connection_id)
    except Exception:
        log.exception("configuration of %s could not be read", connection_id[:64])
        return error(503, "configuration store unavailable", headers={"Retry-After": "5"})
    if conn is None:
        return error(404, f"unknown connection {connection_id[:64]!r}")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return error(413, f"body larger than {MAX_BODY} bytes")
    raw = request.get_data(cache=True)
    try:
        authenticate(conn.webhooks, raw, dict(request.headers), request.args.get("token"))
    except Unauthenticated as exc:
        return error(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    query_errors: dict[str, Any] = {}
    try:
        query = WebhookQuerySchema().load(request.args.to_dict())
    except ValidationError as exc:
        query, query_errors = {}, {"query": exc.messages}
    data: dict[str, Any] = {}
    if raw.strip():
        if not request.mimetype or not (
            request.mimetype == "application/json" or request.mimetype.endswith("+json")
        ):
            return error(415, f"Content-Type must be application/json, not "
                              f"{(request.mimetype or 'none')[:80]!r}")
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return error(400, f"malformed JSON: {str(exc)[:200]}")
        if not isinstance(parsed, dict):
            return error(422, "the body must be a JSON object",
                         {"json": {"_schema": ["must be an object"]}})
        data = parsed
    if "orderId" not in data and query.get("orderId") is not None:
        data = {**data, "orderId": query["orderId"]}
    try:
        payload = WebhookEventSchema().load(data)
    except ValidationError as exc:
        errors = {"json": exc.messages, **query_errors}
        return error(422, _name_fields(exc.messages), errors)
    if query_errors:
        return error(422, _name_fields(query_errors["query"]), query_errors)

    order_id = int(payload["orderId"])
    webhook_id = request.headers.get("webhook-id") or None
    outcome = _accept(conn.id, event, order_id, payload, webhook_id, raw)
    if isinstance(outcome, Response):
        return outcome
    logs.bind(order=order_id, delivery=outcome.delivery_id)
    if outcome.delivery_id is not None:
        _enqueue(event, conn.id, outcome.delivery_id)
    log.info("%s of order %s: %s", event, order_id,
             "duplicate" if outcome.replayed else "accepted")
    response = jsonify(outcome.body)
    response.status_code = outcome.status
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _accept(connection_id: str, event: str, order_id: int, payload: dict[str, Any],
            webhook_id: str | None, raw: bytes) -> accepting.Outcome | Response:
    key = accepting.idempotency_key(event, order_id, webhook_id)
    fingerprint = accepting.request_fingerprint(event, order_id, webhook_id, raw)
    stored = {k: v for k, v in payload.items() if v is not None}
    try:
        outcome = _accept_fast(connection_id, event, order_id, stored, key, fingerprint)
        if outcome is None:
            with runtime.db() as session:
                outcome = accepting.accept(
                    session, connection_id=connection_id, event=event, order_id=order_id,
                    payload=stored, key=key, fingerprint=fingerprint,
                )
    except Exception:
        log.exception("could not record %s for order %s", event, order_id)
        return error(503, "event store unavailable; retry", headers={"Retry-After": "5"})
    if outcome.status >= 400:
        return error(outcome.status, str(outcome.body.get("message", "")))
    return outcome


def _accept_fast(connection_id: str, event: str, order_id: int, payload: dict[str, Any],
                 key: str, fingerprint: str) -> accepting.Outcome | None:
    """PostgreSQL: one statement in autocommit; None (duplicate, SQLite) → `accept`."""
    from store.db import get_engine

    engine = get_engine(runtime.settings().database_url)
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return accepting.accept_postgres(
            connection, connection_id=connection_id, event=event, order_id=order_id,
            payload=payload, key=key, fingerprint=fingerprint)


def _enqueue(event: str, connection_id: str, delivery_id: int) -> None:
    # After the commit; a failure here is covered by the sweeper (the row stays pending).
    from workers.celery_app import app as celery

    try:
        celery.send_task(
            EVENTS[event],
            kwargs={"connection_id": connection_id, "delivery_id": delivery_id},
            queue="orders",
        )
    except Exception:
        log.warning("event %s recorded but not enqueued; the sweeper will send it",
                    delivery_id, exc_info=True)


def _name_fields(messages: Any) -> str:
    if isinstance(messages, dict):
        parts = []
        for field, value in messages.items():
            text_value = value[0] if isinstance(value, list) and value else value
            if isinstance(text_value, dict):
                text_value = _name_fields(text_value)
            parts.append(f"{field}: {text_value}")
        return "; ".join(parts)[:500]
    return str(messages)[:500]


@health.route("/healthz", methods=["GET"])
@health.response(200, HealthSchema)
def healthz() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@health.route("/readyz", methods=["GET"])
@health.response(200, HealthSchema)
@health.alt_response(503, schema=HealthSchema, description="database or broker unreachable")
def readyz() -> Any:
    """Readiness: the database and the broker are reachable."""
    checks: dict[str, str] = {}
    try:
        with runtime.db() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = type(exc).__name__
    try:
        from workers.celery_app import app as celery

        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = type(exc).__name__
    ok = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ok" if ok else "unavailable", "checks": checks})
    response.status_code = 200 if ok else 503
    return response


def create_app() -> Flask:
    app = Flask("spocc-receiver")
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY,
        API_TITLE="SPoCC connector webhooks",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    )
    api = Api(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme(
        "queryToken", {"type": "apiKey", "in": "query", "name": "token"})
    api.spec.components.security_scheme(
        "standardWebhooks", {"type": "apiKey", "in": "header", "name": "webhook-signature"})
    api.register_blueprint(hooks)
    api.register_blueprint(health)
    logs.configure()

    @app.before_request
    def bind_connection() -> None:  # each request starts with its own correlation ids
        g.log_token = logs.bind(connection=(request.view_args or {}).get("connection_id"))

    @app.teardown_request
    def unbind(_exc: BaseException | None) -> None:
        if "log_token" in g:
            logs.reset(g.log_token)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        message = {413: f"body larger than {MAX_BODY} bytes"}.get(code, exc.description or "")
        return error(code, str(message))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # Not an input problem (inputs are all answered above): tell the sender to retry.
        log.exception("unexpected error")
        return error(503, "temporarily unavailable; retry", headers={"Retry-After": "5"})

    return app
