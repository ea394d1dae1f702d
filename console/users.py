"""Who may log in to the console: users from the environment, passwords as hashes only.

`SPOCC_CONSOLE_USERS="alice:operator:<hash>,bob:viewer:<hash>"` (or the same, one entry a
line, in the file `SPOCC_CONSOLE_USERS_FILE` names). A hash is werkzeug's
(`scrypt:…$salt$hash` or `pbkdf2:…`), made by `spocc ops user NAME`. A plain password is
refused: the environment of a process is readable by more than its owner, a hash is harmless.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("viewer", "operator")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HASH = re.compile(r"^(scrypt|pbkdf2):[^$]+\$[^$]+\$[0-9a-f]+$")
HOW_TO = (
    "set SPOCC_CONSOLE_USERS='name:operator:HASH,name2:viewer:HASH' (or a file of such "
    "lines in SPOCC_CONSOLE_USERS_FILE); `spocc ops user NAME --role operator` makes an entry"
)
# Checked when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


class UsersError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str

    @property
    def may_act(self) -> bool:
        return self.role == "operator"


def parse(spec: str) -> dict[str, User]:
    """Users from `name:role:hash` entries separated by commas or new lines."""
    users: dict[str, User] = {}
    entries = [e.strip() for e in re.split(r"[,\n]", spec) if e.strip()]
    for n, entry in enumerate(entries, 1):
        parts = entry.split(":", 2)
        if len(parts) != 3:
            raise UsersError(f"console user {n}: expected name:role:hash")
        name, role, password_hash = parts
        if not _NAME.match(name):
            raise UsersError(
                f"console user {n}: name {name!r} is not lowercase letters, digits, ._-"
            )
        if role not in ROLES:
            raise UsersError(f"console user {name}: role must be one of {', '.join(ROLES)}")
        if not _HASH.match(password_hash):
            raise UsersError(
                f"console user {name}: the password must be a hash (werkzeug scrypt or pbkdf2), "
                "never the password itself; make one with `spocc ops user NAME`"
            )
        if name in users:
            raise UsersError(f"console user {name}: given twice")
        users[name] = User(name, role, password_hash)
    return users


def from_environment(env: dict[str, str] | None = None) -> dict[str, User]:
    """The configured users; raises UsersError (saying how to set them) when there are none."""
    env = dict(os.environ) if env is None else env
    spec = env.get("SPOCC_CONSOLE_USERS", "")
    path = env.get("SPOCC_CONSOLE_USERS_FILE", "")
    if not spec.strip() and path:
        try:
            spec = Path(path).read_text()
        except OSError as exc:
            raise UsersError(f"SPOCC_CONSOLE_USERS_FILE {path}: {exc.strerror}") from exc
    users = parse(spec)
    if not users:
        raise UsersError(f"no console users configured: {HOW_TO}")
    return users


def entry(name: str, role: str, password: str) -> str:
    """One `name:role:hash` entry for SPOCC_CONSOLE_USERS."""
    if not _NAME.match(name):
        raise UsersError(f"name {name!r} is not lowercase letters, digits, ._-")
    if role not in ROLES:
        raise UsersError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise UsersError("the password must have at least 12 characters")
    return f"{name}:{role}:{generate_password_hash(password)}"


def authenticate(users: dict[str, User], name: str, password: str) -> User | None:
    user = users.get(name)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def generated_login(data_dir: Path) -> tuple[Path, Path]:
    """For the embedded `spocc up`: one operator made once, like Flower's `flower.auth`.

    `console.users` holds its hashed entry (what the console reads), `console.login` the
    `name:password` for the person at the terminal; both readable by us alone.
    """
    users_file, login_file = data_dir / "console.users", data_dir / "console.login"
    if not users_file.exists() or not login_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(18)
        _write_private(login_file, f"admin:{password}\n")
        _write_private(users_file, entry("admin", "operator", password) + "\n")
    return users_file, login_file


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
