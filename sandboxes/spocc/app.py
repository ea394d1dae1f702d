"""The SPoCC sandbox as one Flask app: three APIs, image URLs, and the admin surface."""

from __future__ import annotations

from flask import Flask

from sandboxes.catalogue import DEFAULT_SEED, DEFAULT_VARIATIONS, Catalogue
from sandboxes.common.admin import SandboxAdmin, install_admin
from sandboxes.spocc.admin import spocc_admin_blueprint
from sandboxes.spocc.auth import Credentials, RateLimiter
from sandboxes.spocc.content import content_blueprint, media_blueprint
from sandboxes.spocc.errors import error_body, install_error_handlers
from sandboxes.spocc.state import SpoccState
from sandboxes.spocc.stock import stock_blueprint
from sandboxes.spocc.transactions import transactions_blueprint


def create_app(
    catalogue: Catalogue | None = None,
    *,
    variations: int = DEFAULT_VARIATIONS,
    seed: int = DEFAULT_SEED,
    credentials: Credentials | None = None,
    fault_seed: int = 0,
) -> Flask:
    """A fresh sandbox; `catalogue` wins over `variations`/`seed` when given.

    Its state: `app.extensions["spocc_state"]` (SpoccState) and
    `app.extensions["sandbox_admin"]` (ledger, faults, stats).
    """
    catalogue = catalogue or Catalogue(variations=variations, seed=seed)
    credentials = credentials or Credentials()
    limiter = RateLimiter()
    state = SpoccState(catalogue)

    app = Flask("spocc_sandbox")
    # Insertion order is the contract's field order, and sorting 1000-item pages costs time.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install_error_handlers(app)
    app.register_blueprint(content_blueprint(state, credentials, limiter))
    app.register_blueprint(media_blueprint(state))
    app.register_blueprint(stock_blueprint(state, credentials, limiter))
    app.register_blueprint(transactions_blueprint(state, credentials, limiter))
    app.register_blueprint(spocc_admin_blueprint(state, credentials, limiter))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    def reset() -> None:
        state.reset()
        limiter.configure({})

    admin: SandboxAdmin = install_admin(app, reset=reset, seed=fault_seed, error_body=error_body)
    state.ledger = admin.ledger
    app.extensions["spocc_state"] = state
    app.extensions["spocc_credentials"] = credentials
    return app
