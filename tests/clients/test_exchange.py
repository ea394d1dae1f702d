"""What of an HTTP exchange may be kept for an operator: scrubbed of secrets and personal data."""

from __future__ import annotations

import json

from clients import exchange
from clients.exchange import BODY_LIMIT, PERSONAL_MASK, cut, scrub_body, scrub_text
from schemas.secret import MASK


def test_values_under_secret_and_personal_keys_are_masked():
    body = json.dumps({
        "error": {"code": "invalid", "message": "bad address"},
        "access_token": "eyJ-token-value", "refreshToken": "r-123",
        "billing": {"firstName": "Erika", "lastName": "Mustermann", "street": "Weg 1",
                    "postalCode": "10115", "town": "Berlin", "countryId": 1},
        "options": [{"typeId": 5, "value": "erika@example.org"},
                    {"typeId": 4, "value": "+49 170 1234567"}],
        "orderId": 1000, "statusId": 5.1,
    }).encode()
    text = scrub_body(body, "application/json")
    for leaked in ("eyJ-token-value", "r-123", "Erika", "Mustermann", "Weg 1", "10115",
                   "Berlin", "erika@example.org", "1234567"):
        assert leaked not in text
    doc = json.loads(text)
    assert doc["access_token"] == MASK and doc["billing"]["firstName"] == PERSONAL_MASK
    assert doc["orderId"] == 1000 and doc["statusId"] == 5.1 and doc["error"]["code"] == "invalid"


def test_credentials_the_request_carried_are_masked_wherever_the_answer_repeats_them():
    exchange.note(
        "spocc", "GET", "/orders/7?email=erika@example.org", 401, 0.0123,
        content=b"<html>key demo-key-12345 refused; Bearer abcdefgh12345678 too</html>",
        content_type="text/html",
        sent_headers={"X-Api-Key": "demo-key-12345", "Idempotency-Key": "k-1"},
        sent_json={"username": "u", "password": "pw-123456"},
    )
    stored = exchange.last().stored()
    assert stored["route"] == "/orders/7" and stored["status"] == 401
    assert stored["duration_ms"] == 12.3
    assert "demo-key-12345" not in stored["body"] and MASK in stored["body"]
    assert "abcdefgh12345678" not in stored["body"]
    assert set(exchange.last().secrets) >= {"demo-key-12345", "pw-123456"}
    assert "k-1" not in exchange.last().secrets
    exchange.clear()
    assert exchange.last() is None


def test_dates_and_ids_are_not_taken_for_phone_numbers():
    text = scrub_text("order 1000123 on 2026-12-01T10:00:00+01:00, call 0170/1234567")
    assert "1000123" in text and "2026-12-01T10:00:00+01:00" in text
    assert "0170/1234567" not in text


def test_the_body_is_cut_to_its_limit_without_splitting_a_character():
    text, truncated = cut("ä" * BODY_LIMIT)
    assert truncated and len(text.encode()) <= BODY_LIMIT and set(text) == {"ä"}
    assert cut("short") == ("short", False)
