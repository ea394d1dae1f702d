"""Who may deliver an event: a Standard Webhooks signature, or the connection's token.

A request with a `webhook-signature` is judged by its signature alone (a forged one is a
401 even with a good token); otherwise the token must come as `Authorization: Bearer` or,
for senders that can only fill in a URL, as `?token=`. Comparisons are constant-time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook

from schemas.config import Webhooks


class Unauthenticated(Exception):
    """Missing, forged or stale credentials; the message names which, never the value."""


SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def authenticate(
    settings: Webhooks, body: bytes, headers: Mapping[str, str], query_token: str | None
) -> str:
    """Returns how the request authenticated ("signature" or "token"), else raises."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "webhook-signature" in lowered:
        if settings.signing_secret is None:
            raise Unauthenticated("signed delivery, but no signing secret is configured")
        try:
            Webhook(settings.signing_secret.reveal()).verify(
                body, {k: lowered.get(k, "") for k in SIGNATURE_HEADERS}, json_parse=False
            )
        except Exception as exc:  # the library raises several types for bad headers
            raise Unauthenticated(f"bad signature: {_why(exc)}") from None
        return "signature"
    given = _bearer(lowered.get("authorization")) or query_token
    if settings.token is None:
        raise Unauthenticated("no webhook token is configured for this connection")
    if not given:
        raise Unauthenticated("missing credentials: Authorization: Bearer, ?token= or a signature")
    if not hmac.compare_digest(given.encode(), settings.token.reveal().encode()):
        raise Unauthenticated("wrong token")
    return "token"


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _why(exc: Exception) -> str:
    text = str(exc)
    if "too old" in text or "too new" in text:
        return "timestamp outside the 5 minute window"
    if "Missing" in text:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    return "no matching signature"
