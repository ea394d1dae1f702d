"""One PlentyONE token per connection, shared by every worker process through Redis.

An account allows few concurrent sessions (default 3) and each login opens one, so logging
in per worker or per task soon meets `429 too_many_concurrent_sessions`. Here the token
lives in a Redis hash; whoever finds it missing, about to expire, or refused (401) takes a
Redis lock, looks again (another process may have renewed it meanwhile), and only then
renews it: with the refresh token when there is one (same session), with a login only when
there is none or it is refused. So a connection holds one session, whatever the number of
workers.

The token sits in Redis in clear: Redis is the workers' private broker; the key expires with
the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis as redislib

from clients.errors import PermanentError, RetryableError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    access_token: str
    refresh_token: str | None
    expires_at: float  # epoch seconds
    lifetime: float = 86_400.0  # seconds it was issued for

    def __repr__(self) -> str:
        return f"Token(expires_at={self.expires_at:.0f})"


# A function that talks to the API: login(), or refresh(refresh_token). Each returns the
# loaded token answer (`access_token`, `refresh_token`, `expires_in`).
Login = Callable[[], dict[str, Any]]
Refresh = Callable[[str], dict[str, Any]]


class SharedToken:
    def __init__(
        self,
        redis: redislib.Redis,
        key: str,
        login: Login,
        refresh: Refresh | None = None,
        *,
        renew_before: float = 300.0,
        lock_timeout: float = 60.0,
        wait_timeout: float = 90.0,
    ) -> None:
        self.redis = redis
        self.key = key
        self._login = login
        self._refresh = refresh
        self.renew_before = renew_before
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout
        # Seen in this process: saves the Redis read on most calls.
        self._cached: Token | None = None
        self._cached_until = 0.0

    def _read(self) -> Token | None:
        raw = self.redis.hgetall(self.key)
        if not raw:
            return None
        data = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        try:
            return Token(
                access_token=data["access_token"],
                refresh_token=data.get("refresh_token") or None,
                expires_at=float(data["expires_at"]),
                lifetime=float(data.get("lifetime") or 86_400.0),
            )
        except (KeyError, ValueError):
            return None

    def _write(self, answer: dict[str, Any]) -> Token:
        expires_in = float(answer.get("expires_in") or 86_400)
        token = Token(
            access_token=str(answer["access_token"]),
            refresh_token=answer.get("refresh_token") or None,
            expires_at=time.time() + expires_in,
            lifetime=expires_in,
        )
        mapping: dict[Any, Any] = {
            "access_token": token.access_token,
            "expires_at": repr(token.expires_at),
            "lifetime": repr(token.lifetime),
        }
        if token.refresh_token:
            mapping["refresh_token"] = token.refresh_token
        pipe = self.redis.pipeline()
        pipe.delete(self.key)
        pipe.hset(self.key, mapping=mapping)
        # The refresh token outlives the access token: keep the hash a while after expiry so
        # that renewing can use it instead of opening a new session.
        pipe.expire(self.key, int(expires_in * 2) + 60)
        pipe.execute()
        return token

    def _fresh(self, token: Token | None) -> bool:
        if token is None:
            return False
        # Renew ahead of expiry, but never so early that a short-lived token is always stale.
        ahead = min(self.renew_before, token.lifetime / 5)
        return token.expires_at - ahead > time.time()

    def get(self) -> str:
        """The current access token, renewed first if missing or about to expire."""
        now = time.monotonic()
        if self._cached is not None and now < self._cached_until and self._fresh(self._cached):
            return self._cached.access_token
        token = self._read()
        if not self._fresh(token):
            token = self._renew(refused=None)
        assert token is not None
        self._remember(token)
        return token.access_token

    def refused(self, access_token: str) -> str:
        """The API answered 401 to `access_token`: renew it (once across all processes)."""
        self._cached = None
        token = self._renew(refused=access_token)
        self._remember(token)
        return token.access_token

    def _remember(self, token: Token) -> None:
        self._cached = token
        # Re-read Redis now and then, so a renewal by another process is picked up early.
        self._cached_until = time.monotonic() + 5.0

    def _renew(self, refused: str | None) -> Token:
        lock = self.redis.lock(
            self.key + ":lock", timeout=self.lock_timeout, blocking_timeout=self.wait_timeout
        )
        if not lock.acquire():
            raise RetryableError(f"token lock {self.key} busy for {self.wait_timeout:.0f}s")
        try:
            current = self._read()
            if current is not None and self._fresh(current) and current.access_token != refused:
                return current  # someone renewed it while we waited for the lock
            if current is not None and current.refresh_token and self._refresh is not None:
                try:
                    log.info("refreshing the shared token %s", self.key)
                    answer = dict(self._refresh(current.refresh_token))
                    answer["refresh_token"] = answer.get("refresh_token") or current.refresh_token
                    return self._write(answer)
                except PermanentError as exc:
                    # refresh token unknown or expired: only now is a new session due
                    log.info("refresh refused (%s); logging in", exc)
            log.info("logging in for the shared token %s", self.key)
            return self._write(self._login())
        finally:
            try:
                lock.release()
            except redislib.exceptions.LockError:
                log.warning("token lock %s expired before release", self.key)

    def forget(self) -> None:
        """Drop the token (e.g. after the credentials changed)."""
        self._cached = None
        self.redis.delete(self.key)
