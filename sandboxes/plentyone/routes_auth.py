"""POST /rest/login and /rest/login/refresh."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.wrappers import Response

from sandboxes.plentyone.auth import token_answer
from sandboxes.plentyone.http import ApiError
from sandboxes.plentyone.state import sandbox

bp = Blueprint("plentyone_auth", __name__)


@bp.post("/rest/login")
def login() -> Response:
    sb = sandbox()
    body = request.get_json(silent=True) if request.is_json else None
    source = body if isinstance(body, dict) else request.form
    username = source.get("username")
    password = source.get("password")
    if not username or not password:
        raise ApiError(422, "missing required field(s): username, password", "validation_error")
    session = sb.sessions.login(str(username), str(password))
    return jsonify(token_answer(session, sb.config.token_ttl))


@bp.post("/rest/login/refresh")
def refresh() -> Response:
    sb = sandbox()
    body = request.get_json(silent=True) if request.is_json else None
    token = None
    if isinstance(body, dict):
        token = body.get("refresh_token") or body.get("refreshToken")
    token = token or request.form.get("refresh_token") or request.args.get("refresh_token")
    if not token:
        raise ApiError(422, "missing required field: refresh_token", "validation_error")
    session = sb.sessions.refresh(str(token))
    answer = token_answer(session, sb.config.token_ttl)
    # The description types this answer as TokenData (camelCase); the login answers in
    # snake_case. Both spellings are given so a client may read either.
    answer |= {"accessToken": session.access_token, "tokenType": "Bearer",
               "expiresIn": int(sb.config.token_ttl), "refreshToken": session.refresh_token}
    return jsonify(answer)
