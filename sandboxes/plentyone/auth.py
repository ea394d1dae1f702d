"""Backend-user logins, bearer tokens that expire, and the concurrent-session limit."""

from __future__ import annotations

import secrets

from sandboxes.plentyone.config import SandboxConfig
from sandboxes.plentyone.http import ApiError
from sandboxes.plentyone.store import Session, Store


class Sessions:
    def __init__(self, store: Store, config: SandboxConfig) -> None:
        self.store = store
        self.config = config
        self.logins = 0
        self.refreshes = 0
        self.rejected_logins = 0

    def _live(self, username: str, now: float) -> list[Session]:
        return [
            s for s in self.store.sessions.values() if s.username == username and s.is_live(now)
        ]

    def login(self, username: str, password: str) -> Session:
        expected = self.config.accounts.get(username)
        if expected is None or not secrets.compare_digest(expected, password):
            raise ApiError(401, "invalid username or password", "invalid_credentials")
        with self.store.lock:
            now = self.store.now()
            for sid in [s.session_id for s in self.store.sessions.values() if not s.is_live(now)]:
                del self.store.sessions[sid]
            if len(self._live(username, now)) >= self.config.max_sessions:
                self.rejected_logins += 1
                raise ApiError(
                    429,
                    f"too many concurrent sessions for {username}: at most "
                    f"{self.config.max_sessions} may be live at once",
                    "too_many_concurrent_sessions",
                )
            session = Session(
                session_id=self.store.next_id("session"),
                username=username,
                access_token=secrets.token_urlsafe(32),
                refresh_token=secrets.token_urlsafe(32),
                access_expires_at=now + self.config.token_ttl,
                refresh_expires_at=now + max(self.config.refresh_ttl, self.config.token_ttl),
            )
            self.store.sessions[session.session_id] = session
            self.logins += 1
            return session

    def refresh(self, refresh_token: str) -> Session:
        with self.store.lock:
            now = self.store.now()
            for session in self.store.sessions.values():
                if secrets.compare_digest(session.refresh_token, refresh_token):
                    if session.refresh_expires_at <= now:
                        break
                    # Like Laravel Passport under PlentyONE: a refresh revokes the old pair.
                    session.access_token = secrets.token_urlsafe(32)
                    session.refresh_token = secrets.token_urlsafe(32)
                    session.access_expires_at = now + self.config.token_ttl
                    session.refresh_expires_at = now + max(
                        self.config.refresh_ttl, self.config.token_ttl
                    )
                    self.refreshes += 1
                    return session
        raise ApiError(401, "the refresh token is unknown or expired", "invalid_refresh_token")

    def authenticate(self, authorization: str | None) -> Session:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(401, "Unauthenticated.", "unauthenticated")
        token = authorization[7:].strip()
        with self.store.lock:
            now = self.store.now()
            for session in self.store.sessions.values():
                if secrets.compare_digest(session.access_token, token):
                    if session.access_expires_at <= now:
                        raise ApiError(401, "the access token has expired", "token_expired")
                    return session
        raise ApiError(401, "Unauthenticated.", "unauthenticated")

    def expire_access_tokens(self) -> int:
        """Admin: end every access token now (sessions stay, refresh still works)."""
        with self.store.lock:
            now = self.store.now()
            for session in self.store.sessions.values():
                session.access_expires_at = min(session.access_expires_at, now)
            return len(self.store.sessions)

    def drop_all(self) -> None:
        with self.store.lock:
            self.store.sessions.clear()

    def live_count(self) -> dict[str, int]:
        with self.store.lock:
            now = self.store.now()
            counts: dict[str, int] = {}
            for session in self.store.sessions.values():
                if session.is_live(now):
                    counts[session.username] = counts.get(session.username, 0) + 1
            return counts


def token_answer(session: Session, ttl: float) -> dict[str, object]:
    return {
        "token_type": "Bearer",
        "expires_in": int(ttl),
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
    }
