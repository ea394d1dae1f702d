"""The admin surface both sandboxes share, under `/__admin/` (no auth: loopback test use).

    GET  /__admin/faults            current fault rules (with how often each fired)
    POST /__admin/faults            {"seed": 7, "rules": [{"kind": "error", "rate": 0.2, ...}]}
                                    kinds: error, rate_limit, slow, hang, drop_after_effect,
                                    corrupt (see sandboxes/common/faults.py FaultRule)
    DELETE /__admin/faults          no faults
    GET  /__admin/ledger?kind=a&kind=b&since=<seq>   side effects, in order
    GET  /__admin/stats             call counts per method + route, reads vs writes
    DELETE /__admin/stats           counts back to zero
    POST /__admin/reset             ledger, stats, faults and the sandbox's own state reset

A sandbox calls `install_admin(app, reset=...)` once, after creating its Flask app; its own
admin routes (catalogue mutation, order moves) it registers itself under `/__admin/`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from sandboxes.common.faults import ErrorBody, FaultConfigError, FaultInjector
from sandboxes.common.ledger import Ledger
from sandboxes.common.stats import Stats

ADMIN_PREFIX = "/__admin"


class SandboxAdmin:
    """Ledger, faults and stats of one sandbox app (also `app.extensions["sandbox_admin"]`)."""

    def __init__(
        self,
        app: Flask,
        reset: Callable[[], None] | None = None,
        seed: int = 0,
        error_body: ErrorBody | None = None,
    ) -> None:
        self.app = app
        self.ledger = Ledger()
        self.faults = FaultInjector(seed=seed, exempt_prefix=ADMIN_PREFIX, error_body=error_body)
        self.stats = Stats(self._route_of, exempt_prefix=ADMIN_PREFIX)
        self._resets: list[Callable[[], None]] = [reset] if reset else []
        # Stats outermost so calls answered by an injected fault are counted too.
        app.wsgi_app = self.stats.wrap(self.faults.wrap(app.wsgi_app))  # type: ignore[method-assign,assignment]
        app.register_blueprint(self._blueprint())
        app.extensions["sandbox_admin"] = self

    def on_reset(self, callback: Callable[[], None]) -> None:
        self._resets.append(callback)

    def reset(self) -> None:
        self.faults.clear()
        for callback in self._resets:
            callback()
        self.ledger.clear()
        self.stats.clear()

    def _route_of(self, environ: dict[str, Any]) -> str:
        """The route template (`/orders/<order_id>`), so counts group by route, not by id."""
        try:
            rule, _ = self.app.url_map.bind_to_environ(environ).match(return_rule=True)
            return str(rule.rule)
        except HTTPException:
            return "(unmatched)"

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("sandbox_admin", __name__, url_prefix=ADMIN_PREFIX)

        @bp.get("/faults")
        def get_faults() -> ResponseReturnValue:
            return jsonify(self.faults.to_json())

        @bp.post("/faults")
        def set_faults() -> ResponseReturnValue:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return jsonify({"error": "body must be a JSON object"}), 400
            try:
                self.faults.configure_json(body)
            except FaultConfigError as exc:
                return jsonify({"error": str(exc)}), 400
            return jsonify(self.faults.to_json())

        @bp.delete("/faults")
        def clear_faults() -> ResponseReturnValue:
            self.faults.clear()
            return jsonify(self.faults.to_json())

        @bp.get("/ledger")
        def get_ledger() -> ResponseReturnValue:
            kinds = request.args.getlist("kind") or None
            since = request.args.get("since", default=0, type=int)
            entries = [e.to_json() for e in self.ledger.entries(kinds, since_seq=since)]
            return jsonify({"count": len(entries), "entries": entries})

        @bp.get("/stats")
        def get_stats() -> ResponseReturnValue:
            return jsonify(self.stats.to_json())

        @bp.delete("/stats")
        def clear_stats() -> ResponseReturnValue:
            self.stats.clear()
            return jsonify(self.stats.to_json())

        @bp.post("/reset")
        def reset() -> ResponseReturnValue:
            self.reset()
            return jsonify({"reset": True})

        return bp


def install_admin(
    app: Flask,
    reset: Callable[[], None] | None = None,
    seed: int = 0,
    error_body: ErrorBody | None = None,
) -> SandboxAdmin:
    """Wrap `app` with stats and fault injection and add the shared `/__admin/` routes."""
    return SandboxAdmin(app, reset=reset, seed=seed, error_body=error_body)
