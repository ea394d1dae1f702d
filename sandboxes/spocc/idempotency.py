"""`Idempotency-Key` as docs/spocc-api.md section 5 says: the first success is stored and
replayed; a different request under the same key is a 409; errors are not stored."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from sandboxes.spocc.errors import ApiError
from sandboxes.spocc.state import IdempotencyRecord, SpoccState

MAX_KEY_LENGTH = 255

View = Callable[..., tuple[Any, int]]


def idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise ApiError(400, "idempotency_key_required",
                       "an Idempotency-Key header of 1-255 printable ASCII characters is required")
    return key


def json_body() -> Any:
    body = request.get_json(silent=True)
    if body is None and request.get_data():
        raise ApiError(400, "invalid_json", "the body is not valid JSON")
    return body


def _fingerprint(body: Any) -> str:
    canonical = json.dumps(
        [request.method, request.path, body], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(state: SpoccState, retailer_id: str) -> Callable[[View], Callable[..., Response]]:
    """Wrap a view returning (body, status); it sees the key as its `idem_key` argument."""

    def decorate(view: View) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            key = idempotency_key()
            fingerprint = _fingerprint(json_body())
            scoped = (retailer_id, key)
            with state.lock:
                record = state.idempotency.get(scoped)
                if record is not None:
                    if record.fingerprint != fingerprint:
                        raise ApiError(409, "idempotency_key_reused",
                                       "this Idempotency-Key was used for a different request")
                    if record.status is None:
                        raise ApiError(409, "idempotency_key_in_use",
                                       "a request with this Idempotency-Key is still running")
                    replay = jsonify(record.body)
                    replay.status_code = record.status
                    replay.headers["Idempotent-Replayed"] = "true"
                    return replay
                state.idempotency[scoped] = IdempotencyRecord(fingerprint)
            stored = False
            try:
                body, status = view(idem_key=key, **kwargs)
                if 200 <= status < 300:
                    with state.lock:
                        state.idempotency[scoped] = IdempotencyRecord(fingerprint, status, body)
                    stored = True
                response = jsonify(body)
                response.status_code = status
                return response
            finally:
                if not stored:
                    with state.lock:
                        if state.idempotency.get(scoped, None) is not None and \
                                state.idempotency[scoped].status is None:
                            del state.idempotency[scoped]

        return wrapper

    return decorate
