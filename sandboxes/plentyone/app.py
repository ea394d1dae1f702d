"""The PlentyONE sandbox as a Flask app: `create_app(config)`.

Every /rest call except the logins needs a live bearer token and passes the rate limiter;
every /rest answer carries the X-Plenty rate-limit headers.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, request
from flask.wrappers import Response
from werkzeug.exceptions import HTTPException

from sandboxes.common.admin import install_admin
from sandboxes.plentyone.config import SandboxConfig
from sandboxes.plentyone.http import ApiError
from sandboxes.plentyone.state import EXTENSION, Sandbox

OPEN_ROUTES = frozenset({"/rest/login", "/rest/login/refresh"})
# POSTed searches only read; PlentyONE counts them against the read budget.
READ_POSTS = frozenset({"/rest/orders/search"})


def plenty_error_body(status: int, code: str, message: str,
                      details: dict[str, Any]) -> dict[str, Any]:
    """Injected faults answer in PlentyONE's error shape too."""
    return {"error": {"code": status, "key": code, "message": message, **details}}


def create_app(config: SandboxConfig | None = None, **overrides: Any) -> Flask:
    """A fresh sandbox; `overrides` set SandboxConfig fields (e.g. token_ttl=2)."""
    from sandboxes.plentyone import (
        admin_routes,
        routes_auth,
        routes_items,
        routes_lookups,
        routes_orders,
        routes_stock_images,
        subscription_routes,
    )

    config = config or SandboxConfig()
    for name, value in overrides.items():
        if not hasattr(config, name):
            raise TypeError(f"unknown sandbox setting {name}")
        setattr(config, name, value)
    sb = Sandbox(config)
    app = Flask("sandboxes.plentyone")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = sb
    for module in (routes_auth, routes_items, routes_lookups, routes_orders,
                   routes_stock_images, admin_routes, subscription_routes):
        app.register_blueprint(module.bp)
    if config.contract_check:
        from sandboxes.plentyone.contract import ContractChecker

        # Innermost, so it sees exactly what the routes answered (faults come on top).
        sb.contract = ContractChecker()
        app.wsgi_app = sb.contract.wrap(app.wsgi_app)  # type: ignore[method-assign,assignment]
    admin = install_admin(app, reset=sb.reset_state, seed=config.seed,
                          error_body=plenty_error_body)
    sb.attach(admin)

    @app.before_request
    def guard() -> Response | None:
        if not request.path.startswith("/rest/"):
            return None
        route = request.url_rule.rule if request.url_rule is not None else request.path
        kind = "read" if request.method == "GET" or route in READ_POSTS else "write"
        if route in OPEN_ROUTES:
            g.rate_headers = sb.limiter.check(kind, route, consume=False).headers
            return None
        key = f"{request.method} {route}"
        # Headers even on a 401: the answer shows the budget without spending it.
        g.rate_headers = sb.limiter.check(kind, key, consume=False).headers
        sb.sessions.authenticate(request.headers.get("Authorization"))
        verdict = sb.limiter.check(kind, key)
        g.rate_headers = verdict.headers
        if not verdict.allowed:
            raise ApiError(429, "Too many requests: the plan's budget is used up",
                           "too_many_requests", {"Retry-After": str(verdict.retry_after)})
        return None

    @app.after_request
    def rate_headers(response: Response) -> Response:
        for name, value in getattr(g, "rate_headers", {}).items():
            response.headers[name] = value
        return response

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return exc.response()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        answer = jsonify({"error": {"code": exc.code, "message": exc.description}})
        answer.status_code = exc.code or 500
        return answer

    @app.errorhandler(ValueError)
    def value_error(exc: ValueError) -> Response:
        # A value the body gave in the wrong type (e.g. "abc" as a quantity).
        return ApiError(422, f"invalid value: {exc}", "validation_error").response()

    return app


def sandbox_of(app: Flask) -> Sandbox:
    sb: Sandbox = app.extensions[EXTENSION]
    return sb
