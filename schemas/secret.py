"""A value that never prints itself: credentials, API keys, webhook secrets.

`repr`, `str`, f-strings, logging, JSON encoding and pickling (Celery task arguments) all see
a mask; only `.reveal()` hands out the value, at the one place that puts it on the wire.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

MASK = "********"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("a Secret holds a string")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return str(object.__getattribute__(self, "_value"))

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self.reveal())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())

    def __hash__(self) -> int:
        return hash(("Secret", self.reveal()))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        # Pickling would carry the value into a broker message or a result backend.
        raise TypeError("a Secret cannot be serialized; pass an id and re-read it")
