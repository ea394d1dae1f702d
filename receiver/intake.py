"""What every webhook route does alike: find the connection, read the body within its limit,
parse it, record the event once and enqueue it, and answer errors that name the problem."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from flask import Response, g, jsonify, request
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from receiver import accept as accepting
from receiver import sent_events
from schemas.config import ConnectionConfig
from schemas.webhooks import EVENTS
from store.config_store import UnknownConnection
from workers import logs, runtime

log = logging.getLogger("spocc.receiver")

MAX_BODY = 64 * 1024
_READ = 8192


class Refused(Exception):
    """A request answered with a 4xx (or a 503): raise it anywhere, the route answers it."""

    def __init__(self, code: int, message: str, errors: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.errors, self.headers = code, message, errors, headers

    def response(self) -> Response:
        return error(self.code, self.message, self.errors, self.headers)


def error(code: int, message: str, errors: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def too_large() -> Refused:
    return Refused(413, f"body larger than {MAX_BODY} bytes")


def request_db() -> Connection:
    """The request's database connection: the configuration's revision is read and the
    event recorded on it, in one transaction (one checkout, one commit); `end_request_db`
    closes it, rolling back whatever a refused request began."""
    db: Connection | None = g.get("db")
    if db is None:
        from store.db import get_engine

        # No pre-ping: `connection` reads first on every request and retries a dropped
        # connection itself, which spares every request one round trip.
        db = get_engine(runtime.settings().database_url, pre_ping=False).connect()
        g.db = db
    return db


def end_request_db() -> None:
    db: Connection | None = g.pop("db", None)
    if db is not None:
        try:
            db.close()
        except Exception:
            log.warning("closing the request's database connection failed", exc_info=True)


def connection(connection_id: str) -> ConnectionConfig:
    """The connection's configuration (workers.runtime caches it by revision). It is the
    request's first statement: a pooled connection the database dropped (a restart,
    pg_terminate_backend) fails here, the pool is emptied, and a fresh one is taken."""
    try:
        try:
            return runtime.connection(connection_id, request_db())
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            end_request_db()
            return runtime.connection(connection_id, request_db())
    except UnknownConnection:
        raise Refused(404, f"unknown connection {connection_id[:64]!r}") from None
    except Exception:
        log.exception("configuration of %s could not be read", connection_id[:64])
        raise Refused(503, "configuration store unavailable",
                      headers={"Retry-After": "5"}) from None


def read_body() -> bytes:
    """The raw body, at most MAX_BODY bytes; a larger one, declared or chunked, is a 413."""
    length = request.content_length
    if length is not None:
        if length > MAX_BODY:
            raise too_large()
        return request.get_data(cache=True)
    environ = request.environ
    if not environ.get("wsgi.input_terminated"):
        return b""  # a server that does not end a chunked stream: reading it could hang
    # Werkzeug's own limit on a chunked stream stops reading at the limit without saying
    # so; one byte past it tells "exactly the limit" from "over".
    stream, parts, size = environ["wsgi.input"], [], 0
    while size <= MAX_BODY:
        part = stream.read(min(_READ, MAX_BODY + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > MAX_BODY:
        raise too_large()
    return b"".join(parts)


def require_utf8(raw: bytes) -> None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"the body is not UTF-8 (byte {exc.start}): JSON must be "
                           "sent as UTF-8") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    if not raw.strip():
        return {}
    mimetype = request.mimetype
    if not mimetype or not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise Refused(415, f"Content-Type must be application/json, not "
                           f"{(mimetype or 'none')[:80]!r}")
    require_utf8(raw)
    try:
        parsed = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, f"malformed JSON: {str(exc)[:200]}") from None
    if not isinstance(parsed, dict):
        raise Refused(422, "the body must be a JSON object",
                      {"json": {"_schema": ["must be an object"]}})
    return parsed


def name_fields(messages: Any) -> str:
    if isinstance(messages, dict):
        parts = []
        for field, value in messages.items():
            text_value = value[0] if isinstance(value, list) and value else value
            if isinstance(text_value, dict):
                text_value = name_fields(text_value)
            parts.append(f"{field}: {text_value}")
        return "; ".join(parts)[:500]
    return str(messages)[:500]


def record(connection_id: str, event: str, order_id: int, payload: dict[str, Any],
           key: str, fingerprint: str) -> Response:
    """Record the event once (in the request's transaction, committed here), enqueue it if
    it is new, answer 200 with its id."""
    stored = {k: v for k, v in payload.items() if v is not None}
    try:
        db = request_db()
        outcome = accepting.accept(
            db, connection_id=connection_id, event=event, order_id=order_id, payload=stored,
            key=key, fingerprint=fingerprint)
        db.commit()
    except Exception:
        log.exception("could not record %s for order %s", event, order_id)
        return error(503, "event store unavailable; retry", headers={"Retry-After": "5"})
    if outcome.status >= 400:
        return error(outcome.status, str(outcome.body.get("message", "")))
    logs.bind(order=order_id, delivery=outcome.delivery_id)
    if outcome.delivery_id is not None:
        _enqueue(event, connection_id, outcome.delivery_id)
    log.info("%s of order %s: %s", event, order_id,
             "duplicate" if outcome.replayed else "accepted")
    response = jsonify(outcome.body)
    response.status_code = outcome.status
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _enqueue(event: str, connection_id: str, delivery_id: int) -> None:
    # After the commit; a failure here is covered by the sweeper (the row stays pending).
    from workers.celery_app import app as celery

    try:
        celery.send_task(
            EVENTS[event],
            kwargs={"connection_id": connection_id, "delivery_id": delivery_id},
            queue="orders",
            event_dispatcher=sent_events.dispatcher(celery),
        )
    except Exception:
        log.warning("event %s recorded but not enqueued; the sweeper will send it",
                    delivery_id, exc_info=True)
