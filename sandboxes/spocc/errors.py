"""SPoCC's error answers: `{"error": {"code", "message", "details"}, "requestId"}`."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def request_id() -> str:
    rid = g.get("request_id")
    if rid is None:
        rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
        g.request_id = rid
    return str(rid)


def error_body(status: int, code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    """Also the body of injected faults, so a fault looks like SPoCC's own answer."""
    return {
        "error": {"code": code, "message": message, "details": details},
        "requestId": uuid.uuid4().hex[:16],
    }


def error_response(err: ApiError) -> Response:
    body = {
        "error": {"code": err.code, "message": err.message, "details": err.details},
        "requestId": request_id(),
    }
    response = jsonify(body)
    response.status_code = err.status
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "invalid_parameter"}


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def on_api_error(err: ApiError) -> Response:
        return error_response(err)

    @app.errorhandler(HTTPException)
    def on_http_error(err: HTTPException) -> Response:
        status = err.code or 500
        code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "invalid_parameter")
        return error_response(ApiError(status, code, err.description or err.name))

    @app.errorhandler(Exception)
    def on_unexpected(err: Exception) -> Response:
        app.logger.exception("unexpected error in the SPoCC sandbox")
        return error_response(ApiError(500, "internal_error", f"{type(err).__name__}: {err}"))

    @app.after_request
    def add_request_id(response: Response) -> Response:
        response.headers["X-Request-Id"] = request_id()
        return response
