"""Login, logout, who is asking, and who may act.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind TLS) holding the
user name and the login time; a session older than its lifetime, or of a user no longer
configured, is over. Failed logins are throttled per user name and per client address in
Redis, so every gunicorn worker counts the same attempts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from console.settings import ConsoleSettings
from console.users import User, authenticate

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
OPEN_ENDPOINTS = {"auth.login", "static", "healthz"}
WINDOW = "15 minutes"


def settings() -> ConsoleSettings:
    return cast(ConsoleSettings, current_app.config["CONSOLE"])


def current_user() -> User | None:
    return cast(User | None, g.get("user"))


def _login_name() -> str:
    return "user:" + (request.form.get("name") or "").strip().lower()[:64]


def _failed(response: Any) -> bool:
    return bool(response.status_code == 401)


def init(app: Flask, limiter: Limiter) -> None:
    s: ConsoleSettings = app.config["CONSOLE"]
    app.before_request(_load_user)
    login = limiter.limit(
        f"{s.login_failures_per_user} per {WINDOW}",
        key_func=_login_name,
        methods=["POST"],
        deduct_when=_failed,
    )(
        limiter.limit(
            f"{s.login_failures_per_address} per {WINDOW}",
            key_func=get_remote_address,
            methods=["POST"],
            deduct_when=_failed,
        )(_login)
    )
    bp.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    app.register_blueprint(bp)


def _load_user() -> ResponseReturnValue | None:
    g.user = None
    name, at = session.get("user"), session.get("at")
    s = settings()
    if isinstance(name, str) and isinstance(at, int | float):
        user = s.users.get(name)
        if user is not None and time.time() - at < s.session_minutes * 60:
            g.user = user
        else:
            session.clear()
    if g.user is None and request.endpoint not in OPEN_ENDPOINTS:
        if request.method != "GET":
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def safe_path(target: str | None, default: str) -> str:
    """`target` if it is a path of this site, else `default`: never an open redirect (a
    browser reads `//host` and `/\\host` as another host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def _login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    name = (request.form.get("name") or "").strip().lower()
    user = authenticate(settings().users, name, request.form.get("password") or "")
    if user is None:
        return render_template(
            "login.html", next=request.form.get("next", ""), error="wrong name or password"
        ), 401
    session.clear()  # a new session on login: nothing carried over from before
    session.permanent = True
    session["user"], session["at"] = user.name, int(time.time())
    return redirect(safe_path(request.form.get("next"), url_for("pages.overview")))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("auth.login"))


def operator_required(view: F) -> F:
    """Actions: only operators; a viewer gets 403 and nothing happens."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or not user.may_act:
            abort(403, "read-only users cannot act: ask an operator")
        return view(*args, **kwargs)

    return cast(F, wrapped)
