"""The last HTTP exchange of this task execution, for an operator reading its failure.

`clients.http` notes every exchange (method, route, status, duration, answer) in a context
variable; the task base stores the last one on the attempt and the dead letter when a task
fails. Nothing leaves here unscrubbed: the route loses its query string, and the answer body
loses every secret (the credentials this request carried, values under secret-looking keys,
bearer tokens) and every piece of personal data (values under name, address, e-mail and
phone keys, and e-mail addresses and phone numbers anywhere), then is cut to `BODY_LIMIT`.
Scrubbing happens only when an exchange is stored, so a successful call costs a reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from schemas.secret import MASK as SECRET_MASK

BODY_LIMIT = 2048  # bytes of the scrubbed answer body that are kept
PERSONAL_MASK = "[personal data]"

_SECRET_KEYS = (
    "password", "secret", "apikey", "api_key", "token", "authorization", "bearer",
    "credential", "signature", "cookie", "session",
)
# Keys whose values are personal data in PlentyONE's and SPoCC's answers (addresses, contacts).
_PERSONAL_KEYS = frozenset(
    k.replace("_", "").replace("-", "")
    for k in (
        "name", "firstname", "lastname", "surname", "fullname", "name1", "name2", "name3",
        "name4", "gender", "title", "company", "contactperson", "street", "address",
        "address1", "address2", "address3", "address4", "housenumber", "postalcode", "zip",
        "zipcode", "postcode", "town", "city", "email", "mail", "emailaddress", "phone",
        "telephone", "phonenumber", "mobile", "fax", "birthday", "dateofbirth", "iban", "bic",
        "bankaccount", "vatnumber", "taxnumber", "ip", "ipaddress", "recipient", "customer",
        "billingaddress", "deliveryaddress", "shippingaddress",
    )
)
# Header names whose values are credentials (their values are masked in the answer too).
_SECRET_HEADERS = ("authorization", "api-key", "apikey", "token", "secret", "cookie")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# International or national form, at least 7 digits: "+49 170 1234567", "0170/1234567".
_PHONE = re.compile(r"(?<![\w.])(?:\+|00|0)\d[\d ()/-]{5,}\d(?![\w.])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?\b")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_QUERY = re.compile(r"\?\S*")


@dataclass(frozen=True)
class Exchange:
    api: str
    method: str
    route: str
    status: int | None  # None: no answer (time-out, connection dropped)
    duration_ms: float
    error: str | None
    content: bytes
    content_type: str
    sent_headers: Mapping[str, str]
    sent_json: Any

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credentials the request carried (masked wherever the answer repeats them)."""
        return tuple(_credentials(self.sent_headers, self.sent_json))

    def stored(self, limit: int = BODY_LIMIT) -> dict[str, Any]:
        """The exchange as it may be stored and shown: scrubbed and cut."""
        secrets = self.secrets
        body, truncated = cut(scrub_body(self.content, self.content_type, secrets), limit)
        return {
            "api": self.api[:40],
            "method": self.method[:10],
            "route": _QUERY.sub("", self.route)[:500],
            "status": self.status,
            "duration_ms": round(self.duration_ms, 1),
            "error": scrub_text(_QUERY.sub("?…", self.error), secrets)[:1000]
            if self.error
            else None,
            "body": body,
            "body_truncated": truncated,
        }


_last: ContextVar[Exchange | None] = ContextVar("spocc_last_http_exchange", default=None)


def note(
    api: str,
    method: str,
    path: str,
    status: int | None,
    duration_s: float,
    *,
    content: bytes = b"",
    content_type: str | None = None,
    error: str | None = None,
    sent_headers: Mapping[str, str] | None = None,
    sent_json: Any = None,
) -> None:
    """Remember this exchange as the last one of the current task execution."""
    _last.set(
        Exchange(
            api=api,
            method=method,
            route=path.split("?", 1)[0],
            status=status,
            duration_ms=duration_s * 1000,
            error=error,
            content=content,
            content_type=content_type or "",
            sent_headers=sent_headers or {},
            sent_json=sent_json,
        )
    )


def last() -> Exchange | None:
    return _last.get()


def clear() -> None:
    _last.set(None)


def _credentials(headers: Mapping[str, str], body: Any) -> Iterable[str]:
    for name, value in headers.items():
        lowered = name.lower()
        if not value or "idempotency" in lowered:
            continue
        if any(h in lowered for h in _SECRET_HEADERS):
            yield value
            scheme, _, rest = value.partition(" ")
            if rest and scheme.lower() in ("bearer", "basic", "token"):
                yield rest
    yield from _secret_values(body)


def _secret_values(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if _is_secret_key(key) and isinstance(value, str) and value:
                yield value
            else:
                yield from _secret_values(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _secret_values(value)


def _norm(key: Any) -> str:
    return str(key).lower().replace("_", "").replace("-", "")


def _is_secret_key(key: Any) -> bool:
    lowered = str(key).lower()
    return any(h in lowered for h in _SECRET_KEYS) or any(
        h.replace("_", "") in _norm(key) for h in _SECRET_KEYS
    )


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    # longest first, so a token is masked whole before a shorter secret inside it
    for value in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, SECRET_MASK)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {SECRET_MASK}", text)
    text = _EMAIL.sub(PERSONAL_MASK, text)
    text = _IBAN.sub(PERSONAL_MASK, text)
    return _PHONE.sub(PERSONAL_MASK, text)


def scrub_value(node: Any, secrets: Iterable[str] = ()) -> Any:
    """A parsed JSON document with secrets and personal data masked."""
    secrets = tuple(secrets)
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if _is_secret_key(key) and value not in (None, "", [], {}):
                out[key] = SECRET_MASK
            elif _norm(key) in _PERSONAL_KEYS and value not in (None, "", [], {}):
                out[key] = PERSONAL_MASK
            else:
                out[key] = scrub_value(value, secrets)
        return out
    if isinstance(node, list):
        return [scrub_value(v, secrets) for v in node]
    if isinstance(node, str):
        return scrub_text(node, secrets)
    return node


def scrub_body(content: bytes, content_type: str = "", secrets: Iterable[str] = ()) -> str:
    if not content:
        return ""
    text = content.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        return scrub_text(text, secrets)
    return json.dumps(scrub_value(document, secrets), ensure_ascii=False)


def cut(text: str, limit: int = BODY_LIMIT) -> tuple[str, bool]:
    """At most `limit` UTF-8 bytes, never splitting a character; (text, was it cut)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode("utf-8", errors="ignore"), True
