"""What can go wrong talking to an external API, decided once, here, by exception type.

Callers (tasks) need one question answered: try again later, or give up and tell a person?
`RetryableError` means the same call may succeed later (timeouts, dropped connections, 5xx,
429, an open circuit); `PermanentError` means it will not (4xx other than 429, an answer
that breaks the contract). `outcome_unknown` says whether a failed write may still have
been applied by the server (the answer was lost), which matters for writes without an
idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


class ClientError(Exception):
    """Base of every error the API clients raise."""

    def __init__(
        self,
        message: str,
        *,
        api: str = "",
        method: str = "",
        path: str = "",
        status: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.api = api
        self.method = method
        self.path = path
        self.status = status
        # The decoded error answer (never request data, which may hold credentials).
        self.body = body

    @property
    def call(self) -> str:
        return f"{self.method} {self.path}".strip()

    @property
    def code(self) -> str:
        """The API's machine code of the error (SPoCC's `error.code`), or ""."""
        return _code(self.body)

    @property
    def details(self) -> dict[str, Any]:
        """SPoCC's `error.details` (e.g. `spoccOrderId` of `order_exists`), or {}."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            details = self.body["error"].get("details")
            if isinstance(details, dict):
                return details
        return {}


class RetryableError(ClientError):
    """The call may succeed if made again later."""

    retry_after: float | None = None
    outcome_unknown: bool = False


class TransportError(RetryableError):
    """No usable answer: connection refused or dropped, or a timeout."""

    def __init__(self, message: str, *, outcome_unknown: bool, **kw: Any) -> None:
        super().__init__(message, **kw)
        # False only when the request provably never reached the server (connect failed).
        self.outcome_unknown = outcome_unknown


class Timeout(TransportError):
    """Connect or read timeout."""


class ServerError(RetryableError):
    """5xx: the server failed; a write may or may not have been applied."""

    outcome_unknown = True


class RateLimited(RetryableError):
    """429: the budget is exhausted; nothing was applied; wait `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class CircuitOpen(RetryableError):
    """The circuit breaker refuses calls for a cool-down; nothing was sent."""

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RateLimitTimeout(RetryableError):
    """No slot of the shared rate limit became free within the caller's timeout."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class InProgress(RetryableError):
    """409 `idempotency_key_in_use`: the first request with this key is still running."""


class PermanentError(ClientError):
    """The same call will fail again: fix data, mapping or credentials first."""


class BadRequest(PermanentError):
    """400."""


class Unauthorized(PermanentError):
    """401 (after the one token refresh the PlentyONE client allows), or a wrong API key."""


class Forbidden(PermanentError):
    """403."""


class NotFound(PermanentError):
    """404."""


class Conflict(PermanentError):
    """409: e.g. an idempotency key reused with a different body."""


class Unprocessable(PermanentError):
    """422: validation failed (e.g. a bulk call over 50 records)."""


class TooManySessions(PermanentError):
    """429 `too_many_concurrent_sessions` on login: the account's session limit is reached.

    Permanent for this call: waiting does not end other sessions; the connector must share
    one token per connection instead of logging in again.
    """


class ContractError(PermanentError):
    """The answer breaks the API contract (missing field, wrong type, not JSON)."""


_BY_STATUS: dict[int, type[PermanentError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None or value == "":
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    api: str,
    method: str,
    path: str,
) -> ClientError:
    """The exception for a non-2xx answer."""
    detail = _detail(body)
    message = f"{method} {path}: HTTP {status}" + (f": {detail}" if detail else "")
    kw: dict[str, Any] = {
        "api": api,
        "method": method,
        "path": path,
        "status": status,
        "body": body,
    }
    if status == 429:
        if "too_many_concurrent_sessions" in (detail or "") or _mentions_sessions(body):
            return TooManySessions(message, **kw)
        return RateLimited(message, retry_after=parse_retry_after(headers.get("Retry-After")), **kw)
    if status >= 500:
        return ServerError(message, **kw)
    if status == 409 and _code(body) == "idempotency_key_in_use":
        return InProgress(message, **kw)
    cls = _BY_STATUS.get(status, PermanentError)
    return cls(message, **kw)


def _code(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            for name in ("code", "key"):  # PlentyONE: numeric code, textual key
                if isinstance(err.get(name), str):
                    return str(err[name])
        if isinstance(body.get("code"), str):
            return str(body["code"])
    return ""


def _mentions_sessions(body: Any) -> bool:
    return "too_many_concurrent_sessions" in repr(body)


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error", "message", "detail", "title"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value:
                return str(value)[:300]
        return ""
    if isinstance(body, str):
        return body.strip()[:300]
    return ""
