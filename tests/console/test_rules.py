"""The console's plain rules: user entries, redirects that stay on the site, masked text."""

from __future__ import annotations

import pytest

from console.auth import safe_path
from console.filters import every, mask_text
from console.users import UsersError, entry, parse


def test_users_are_entries_with_a_role_and_a_hash() -> None:
    a, b = entry("alice", "operator", "a-long-password"), entry("bob", "viewer", "b-long-password")
    users = parse(f"{a},\n{b}\n")
    assert users["alice"].may_act and not users["bob"].may_act


@pytest.mark.parametrize(("spec", "says"), [
    ("alice:operator", "expected name:role:hash"),
    ("alice:admin:scrypt:32768:8:1$abc$0f", "role must be one of"),
    ("Alice Smith:viewer:scrypt:32768:8:1$abc$0f", "is not lowercase"),
    ("alice:viewer:plain-password", "must be a hash"),
    ("a:viewer:scrypt:1:1:1$s$0f,a:viewer:scrypt:1:1:1$s$0f", "given twice"),
])
def test_a_bad_user_entry_is_refused_by_name(spec: str, says: str) -> None:
    with pytest.raises(UsersError, match=says):
        parse(spec)


def test_a_short_password_gets_no_entry() -> None:
    with pytest.raises(UsersError, match="at least 12"):
        entry("alice", "operator", "short")


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example",
                                    "", None, "dead-letters"])
def test_redirects_never_leave_the_site(target: str | None) -> None:
    assert safe_path(target, "/") == "/"


def test_a_path_of_the_site_is_kept() -> None:
    assert safe_path("/dead-letters?status=all", "/") == "/dead-letters?status=all"


@pytest.mark.parametrize("text", [
    "GET /rest/orders?token=s3cr3t&page=2", "Authorization: Bearer s3cr3t", "password=s3cr3t",
    'apiKey: "s3cr3t"', "api_key=s3cr3t",
])
def test_secrets_in_free_text_are_masked(text: str) -> None:
    masked = mask_text(text)
    assert "s3cr3t" not in masked and "********" in masked


def test_intervals_read_as_an_operator_says_them() -> None:
    assert [every(m) for m in (15, 60, 120, 1440, 90)] == ["15 min", "1 h", "2 h", "1 d", "90 min"]


def test_an_email_address_in_an_error_is_masked() -> None:
    masked = mask_text("POST /orders: HTTP 422: invalid email jane.doe+shop@example.co.uk")
    assert "jane" not in masked and "[personal data]" in masked
