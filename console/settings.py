"""The console's own settings, from the environment (infrastructure comes from workers.settings)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from console.users import User, from_environment


@dataclass(frozen=True)
class ConsoleSettings:
    users: dict[str, User]
    secret_key: str
    session_minutes: int
    secure_cookies: bool
    # failed logins allowed per 15 minutes, for one user name and for one client address
    login_failures_per_user: int
    login_failures_per_address: int


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise ValueError(f"{name}: not an integer: {raw!r}") from exc


def session_secret(env: dict[str, str], data_dir: Path) -> str:
    """SPOCC_CONSOLE_SECRET, else one made once in the data dir (shared by every gunicorn
    worker, kept across restarts so a restart does not log everybody out)."""
    given = env.get("SPOCC_CONSOLE_SECRET", "")
    if given:
        if len(given) < 32:
            raise ValueError("SPOCC_CONSOLE_SECRET: at least 32 characters")
        return given
    path = data_dir / "console.secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def load(data_dir: Path, env: dict[str, str] | None = None) -> ConsoleSettings:
    """Raises console.users.UsersError when no user is configured (no default login)."""
    env = dict(os.environ) if env is None else env
    return ConsoleSettings(
        users=from_environment(env),
        secret_key=session_secret(env, data_dir),
        session_minutes=_int(env, "SPOCC_CONSOLE_SESSION_MINUTES", 480),
        secure_cookies=env.get("SPOCC_CONSOLE_SECURE_COOKIES", "") in ("1", "true", "yes"),
        login_failures_per_user=_int(env, "SPOCC_CONSOLE_LOGIN_FAILURES", 5),
        login_failures_per_address=_int(env, "SPOCC_CONSOLE_LOGIN_FAILURES_PER_ADDRESS", 20),
    )
