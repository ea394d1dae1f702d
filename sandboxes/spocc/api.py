"""What every one of the three APIs does before and after its routes: key, retailer, rate
limit, and the `/ping` check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from sandboxes.spocc.auth import Credentials, RateLimiter, authenticate
from sandboxes.spocc.params import iso, request_started


def api_blueprint(
    name: str, prefix: str, api: str, credentials: Credentials, limiter: RateLimiter
) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix=prefix)

    @bp.before_request
    def guard() -> None:
        request_started()
        g.rate_headers = authenticate(api, credentials, limiter)

    @bp.after_request
    def rate_headers(response: Response) -> Response:
        for header, value in g.get("rate_headers", {}).items():
            response.headers[header] = value
        return response

    @bp.get("/ping")
    def ping() -> Any:
        return {
            "api": api,
            "retailerId": request.headers.get("X-Retailer-Id"),
            "serverTime": iso(request_started()),
        }

    return bp
