"""One pooled HTTP session per client, with timeouts, retries, rate limit and breaker in one place.

Every call goes: breaker check -> rate-limit slot -> request (connect/read timeouts always
set) -> feed the answer's rate-limit headers back -> classify -> parse through a schema.

What is retried, and by whom:
- urllib3's `Retry` on the adapter retries only *connect* failures (the request never left
  this machine, so repeating is safe for every method, and costs no rate budget).
- This module's loop retries what reached the server, so that each attempt takes its own
  rate-limit slot and counts in the breaker: 429 for every call (a rejected call was not
  applied; all workers wait out `Retry-After` together through the limiter), and timeouts,
  dropped connections and 5xx only for *safe* calls -- reads, and writes that carry an
  idempotency key. An unkeyed write that may have been applied is never repeated here.
"""

from __future__ import annotations

import json as jsonlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import requests
from marshmallow import Schema
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from clients import exchange
from clients.answers import contract_message, load
from clients.errors import (
    ClientError,
    ContractError,
    RateLimited,
    RetryableError,
    ServerError,
    Timeout,
    TransportError,
    Unauthorized,
    error_for_status,
    parse_retry_after,
)
from clients.retry_policy import RetryPolicy, Timeouts

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Limiter(Protocol):
    def acquire(self, priority: str = ..., timeout: float | None = ...) -> float: ...
    def observe(self, headers: Mapping[str, str]) -> None: ...
    def block_for(self, seconds: float) -> None: ...


class Breaker(Protocol):
    def before_call(self) -> None: ...
    def record_success(self) -> None: ...
    def record_failure(self, reason: str = ...) -> None: ...


def make_session(pool_size: int, connect_retries: int, backoff: float) -> requests.Session:
    retry = Retry(
        total=connect_retries,
        connect=connect_retries,
        read=False,  # re-raise read errors at once: the loop above decides
        status=0,
        other=0,
        redirect=0,
        backoff_factor=backoff,
        allowed_methods=None,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=retry)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably did not reach the server (it failed to connect)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (NewConnectionError, ConnectTimeoutError)):
            return True
        if isinstance(cur, MaxRetryError) and isinstance(
            cur.reason, (NewConnectionError, ConnectTimeoutError)
        ):
            return True
        nxt = cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else None
        cur = nxt or cur.__cause__ or cur.__context__
    return False


class HttpClient:
    """JSON over HTTP to one API of one connection."""

    def __init__(
        self,
        base_url: str,
        *,
        api: str,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        read_limiter: Limiter | None = None,
        write_limiter: Limiter | None = None,
        breaker: Breaker | None = None,
        pool_size: int = 10,
        acquire_timeout: float = 120.0,
        user_agent: str = "spocc-connector",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = api
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.read_limiter = read_limiter
        self.write_limiter = write_limiter
        self.breaker = breaker
        self.acquire_timeout = acquire_timeout
        self.session = make_session(pool_size, self.retry.connect_retries, self.retry.backoff)
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Accept"] = "application/json"
        self._local = threading.local()

    @property
    def last_rate_wait(self) -> float:
        """Seconds the last call on this thread waited for rate-limit slots (all attempts)."""
        return float(getattr(self._local, "rate_wait", 0.0))

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        schema: Schema | None = None,
        many: bool = False,
        idempotency_key: str | None = None,
        idempotency_header: str = "Idempotency-Key",
        headers: Callable[[], Mapping[str, str]] | Mapping[str, str] | None = None,
        on_unauthorized: Callable[[], None] | None = None,
        priority: str = "catalogue",
        expect_body: bool = True,
    ) -> Any:
        """Make one logical call; returns the parsed (and, with `schema`, loaded) answer.

        `headers` may be a callable, re-evaluated per attempt (a refreshed bearer token).
        `on_unauthorized` is called once on the first 401, then the call is made once more.
        """
        method = method.upper()
        call = f"{method} {path}"
        safe = method in SAFE_METHODS or idempotency_key is not None
        limiter = self.read_limiter if method in SAFE_METHODS else self.write_limiter
        refreshed = False
        attempt = 0
        self._local.rate_wait = 0.0
        ends = time.monotonic() + self.retry.deadline

        def left() -> float:
            return ends - time.monotonic()

        def pause(seconds: float) -> bool:
            """Sleep before the next attempt, if the deadline leaves room for it."""
            if seconds >= left():
                return False
            time.sleep(seconds)
            return True

        while True:
            if left() <= 0:
                raise Timeout(
                    f"{call}: no answer within the call's deadline of {self.retry.deadline:.0f}s",
                    outcome_unknown=False,  # nothing that may have been applied is retried
                    api=self.api,
                    method=method,
                    path=path,
                )
            if self.breaker is not None:
                self.breaker.before_call()
            if limiter is not None:
                waited = limiter.acquire(
                    priority=priority, timeout=min(self.acquire_timeout, left())
                )
                self._local.rate_wait += waited
                if waited > 1.0:
                    log.info("%s %s waited %.1fs for a rate-limit slot", self.api, call, waited)
            extra: dict[str, str] = {}
            if headers is not None:
                extra.update(headers() if callable(headers) else headers)
            if idempotency_key is not None:
                extra[idempotency_header] = idempotency_key
            started = time.monotonic()
            try:
                resp = self.session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    headers=extra,
                    timeout=(self.timeouts.connect, max(0.01, min(self.timeouts.read, left()))),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                terr = self._transport_error(exc, call)
                exchange.note(
                    self.api, method, path, None, _since(started), error=terr.message,
                    sent_headers=_sent(self.session.headers, extra), sent_json=json,
                )
                if self.breaker is not None:
                    self.breaker.record_failure(terr.message)
                log.info("%s %s failed after %.3fs: %s", self.api, call, _since(started), terr)
                if (
                    safe
                    and attempt + 1 < self.retry.attempts
                    and pause(self.retry.backoff_for(attempt))
                ):
                    attempt += 1
                    continue
                raise terr from None
            log.debug("%s %s -> %s in %.3fs", self.api, call, resp.status_code, _since(started))
            exchange.note(
                self.api, method, path, resp.status_code, _since(started),
                content=resp.content, content_type=resp.headers.get("Content-Type"),
                sent_headers=_sent(self.session.headers, extra), sent_json=json,
            )
            if limiter is not None:
                limiter.observe(resp.headers)
            status = resp.status_code
            if status == 429:
                err = error_for_status(
                    status, resp.headers, _body(resp), api=self.api, method=method, path=path
                )
                if not isinstance(err, RateLimited):
                    raise err  # e.g. too many sessions: waiting does not help
                wait = (
                    err.retry_after
                    if err.retry_after is not None
                    else self.retry.backoff_for(attempt)
                )
                if limiter is not None:
                    limiter.block_for(wait)
                if (
                    attempt + 1 >= self.retry.attempts
                    or wait > self.retry.max_retry_after
                    or wait >= left()
                ):
                    raise err
                if limiter is None:
                    time.sleep(wait)
                attempt += 1
                continue
            if status >= 500:
                err = error_for_status(
                    status, resp.headers, _body(resp), api=self.api, method=method, path=path
                )
                if self.breaker is not None:
                    self.breaker.record_failure(err.message)
                if (
                    safe
                    and attempt + 1 < self.retry.attempts
                    and pause(self.retry.backoff_for(attempt))
                ):
                    attempt += 1
                    continue
                raise err
            if self.breaker is not None:
                self.breaker.record_success()
            if status == 401 and on_unauthorized is not None and not refreshed:
                refreshed = True
                on_unauthorized()
                continue
            if not 200 <= status < 300:
                failure = error_for_status(
                    status, resp.headers, _body(resp), api=self.api, method=method, path=path
                )
                if (
                    isinstance(failure, RetryableError)
                    and safe
                    and attempt + 1 < self.retry.attempts
                    and pause(self.retry.backoff_for(attempt))
                ):
                    attempt += 1
                    continue
                raise failure
            return self._parse(resp, call, schema, many, expect_body)

    def _transport_error(self, exc: requests.RequestException, call: str) -> TransportError:
        method, _, path = call.partition(" ")
        never_sent = _never_sent(exc)
        kind: type[TransportError] = (
            Timeout if isinstance(exc, requests.Timeout) else TransportError
        )
        return kind(
            f"{call}: {type(exc).__name__}: {_short(exc)}",
            outcome_unknown=not never_sent,
            api=self.api,
            method=method,
            path=path,
        )

    def _parse(
        self,
        resp: requests.Response,
        call: str,
        schema: Schema | None,
        many: bool,
        expect_body: bool,
    ) -> Any:
        method, _, path = call.partition(" ")
        if not resp.content:
            if expect_body and schema is not None:
                raise ContractError(
                    f"{call}: empty answer, expected JSON", api=self.api, method=method, path=path
                )
            return None
        try:
            data = jsonlib.loads(resp.content)
        except ValueError:
            if not expect_body:
                return None
            raise ContractError(
                f"{call}: answer is not JSON ({resp.headers.get('Content-Type', '?')})",
                api=self.api,
                method=method,
                path=path,
            ) from None
        if schema is None:
            return data
        return load(schema, data, many=many, call=call, api=self.api)


def _body(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:500]


def _sent(session_headers: Mapping[str, str | bytes], extra: dict[str, str]) -> Mapping[str, str]:
    # the session's own headers (User-Agent, Accept) carry no credential in our clients
    if not session_headers.get("Authorization"):
        return extra
    return {**{k: str(v) for k, v in session_headers.items()}, **extra}


def _since(started: float) -> float:
    return time.monotonic() - started


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."


__all__ = [
    "SAFE_METHODS",
    "ClientError",
    "HttpClient",
    "RateLimited",
    "RetryPolicy",
    "RetryableError",
    "ServerError",
    "Timeouts",
    "Unauthorized",
    "contract_message",
    "load",
    "make_session",
    "parse_retry_after",
]
