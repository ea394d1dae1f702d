"""The console's Flask application: security wiring, error pages, blueprints."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, render_template
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from console import auth, filters
from console.settings import ConsoleSettings
from workers import runtime

# Nothing but our own origin: no script at all, styles and images from /static.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def create_app(console: ConsoleSettings) -> Flask:
    app = Flask(__name__)
    app.config.update(
        CONSOLE=console,
        SECRET_KEY=console.secret_key,
        SESSION_COOKIE_NAME="spocc_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=console.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=console.session_minutes),
        WTF_CSRF_TIME_LIMIT=console.session_minutes * 60,
        # Flask-Limiter answers 429 from Redis shared by every worker of the console.
        RATELIMIT_STORAGE_URI="redis://",
        RATELIMIT_STORAGE_OPTIONS={"connection_pool": runtime.redis_client().connection_pool},
        RATELIMIT_KEY_PREFIX="spocc:console:limit",
        # Redis down is when the console is needed most: each worker then counts failed
        # logins in its own memory instead of refusing every login.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app, strategy="moving-window")
    filters.register(app)
    auth.init(app, limiter)

    from console import dead_letter_pages, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(dead_letter_pages.bp)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> tuple[str, int]:
        return render_template(
            "error.html",
            title="Refused",
            message="This action did not come from a form of this console (its CSRF token "
            "is missing or expired). Nothing was done; reload the page and try again.",
        ), 400

    @app.errorhandler(429)
    def throttled(exc: HTTPException) -> tuple[str, int]:
        return render_template(
            "login.html",
            error="too many failed logins: wait 15 minutes and try again",
            next="",
        ), 429

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return render_template(
            "error.html", title=f"{exc.code} {exc.name}", message=exc.description
        ), exc.code or 500

    return app
