"""The webhook receiver: `POST /hooks/<connection>/<event>` (event procedures, relays) and
`POST /hooks/<connection>` (PlentyONE's webhook subscriptions) → a committed event row → a task.

Run it with `spocc webhooks [--port N]` (gunicorn). Every input gets a 4xx naming what is
wrong, never a 500: unknown connection or event 404 (listing the events), too large 413
(declared or chunked), not JSON 415, malformed JSON or not UTF-8 400, a bad field 422, bad
credentials 401 (and nothing stored), a wrong method 405 with `Allow`. An accepted event,
and every later copy of it, is a 200: PlentyONE counts nothing else as delivered.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Flask, Response, g, jsonify, request, send_from_directory
from flask_smorest import Api, Blueprint
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from receiver.hooks import hooks
from receiver.intake import MAX_BODY, end_request_db, error
from receiver.plenty_webhooks import SIGNATURE_HEADER
from receiver.subscriptions import subscriptions
from schemas.ids import DecimalId, QueryId
from schemas.webhooks import EVENTS, HealthSchema
from workers import logs, runtime

log = logging.getLogger("spocc.receiver")

health = Blueprint("health", __name__, description="Liveness and readiness")

# Swagger UI's files, shipped by the flask-swagger-ui package: /docs works offline.
SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).parent / "dist"
SWAGGER_UI_URL = "/docs/assets/"
_EVENT_PATH = re.compile(r"^/hooks/[^/]+/([^/]+)/?$")


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


def _swagger_asset(filename: str) -> Response:
    return send_from_directory(SWAGGER_UI_DIR, filename, max_age=86400)


def _unknown_event() -> str | None:
    match = _EVENT_PATH.match(request.path)
    return match.group(1) if match and match.group(1) not in EVENTS else None


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
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_URL,
    )
    api = Api(app)
    api.register_field(DecimalId, "number", None)
    api.register_field(QueryId, "string", None)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme(
        "queryToken", {"type": "apiKey", "in": "query", "name": "token"})
    api.spec.components.security_scheme(
        "standardWebhooks", {"type": "apiKey", "in": "header", "name": "webhook-signature"})
    api.spec.components.security_scheme(
        "plentySignature", {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER})
    api.register_blueprint(hooks)
    api.register_blueprint(subscriptions)
    api.register_blueprint(health)
    app.add_url_rule(f"{SWAGGER_UI_URL}<path:filename>", "swagger_ui_assets", _swagger_asset)
    logs.configure()

    @app.before_request
    def bind_connection() -> None:  # each request starts with its own correlation ids
        g.log_token = logs.bind(connection=(request.view_args or {}).get("connection_id"))

    @app.teardown_request
    def unbind(_exc: BaseException | None) -> None:
        end_request_db()
        if "log_token" in g:
            logs.reset(g.log_token)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        message = {413: f"body larger than {MAX_BODY} bytes"}.get(code, exc.description or "")
        if code == 404 and (unknown := _unknown_event()) is not None:
            message = f"unknown event {unknown[:64]!r}; the events are: " + ", ".join(EVENTS)
        # The exception's own headers carry `Allow` on a 405 (and Retry-After and the like).
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error(code, str(message), headers=headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # Not an input problem (inputs are all answered above): tell the sender to retry.
        log.exception("unexpected error")
        return error(503, "temporarily unavailable; retry", headers={"Retry-After": "5"})

    return app
