"""Write-only secrets: Fernet-encrypted at rest, decrypted into a `Secret` only when used."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.secret import Secret
from store.models import ConnectionSecret


class SecretKeyError(RuntimeError):
    pass


class SecretBox:
    """Encrypts with the first key; decrypts with any (comma-separated keys allow rotation)."""

    def __init__(self, keys: Secret) -> None:
        parts = [k.strip() for k in keys.reveal().split(",") if k.strip()]
        if not parts:
            raise SecretKeyError("SPOCC_SECRET_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except ValueError as exc:
            raise SecretKeyError(
                "SPOCC_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes); "
                "make one with `spocc config new-key`"
            ) from exc

    def encrypt(self, value: Secret) -> bytes:
        return self._fernet.encrypt(value.reveal().encode())

    def decrypt(self, token: bytes) -> Secret:
        try:
            return Secret(self._fernet.decrypt(token).decode())
        except InvalidToken as exc:
            raise SecretKeyError("a stored secret does not open with SPOCC_SECRET_KEY") from exc


def new_key() -> str:
    return Fernet.generate_key().decode()


def store_secret(
    session: Session, box: SecretBox, connection_id: str, name: str, value: Secret
) -> None:
    row = session.get(ConnectionSecret, (connection_id, name))
    if row is None:
        session.add(
            ConnectionSecret(connection_id=connection_id, name=name, ciphertext=box.encrypt(value))
        )
    else:
        row.ciphertext = box.encrypt(value)


def load_secrets(session: Session, box: SecretBox, connection_id: str) -> dict[str, Secret]:
    rows = session.execute(
        select(ConnectionSecret).where(ConnectionSecret.connection_id == connection_id)
    ).scalars()
    return {row.name: box.decrypt(row.ciphertext) for row in rows}


def secret_names(session: Session, connection_id: str) -> set[str]:
    return set(
        session.execute(
            select(ConnectionSecret.name).where(ConnectionSecret.connection_id == connection_id)
        ).scalars()
    )
