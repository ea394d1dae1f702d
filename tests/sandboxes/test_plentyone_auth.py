"""Login, refresh, expiring tokens and the concurrent-session limit of the PlentyONE sandbox."""

from __future__ import annotations

import time

from tests.sandboxes.conftest import PlentyFactory, PlentyServer


def _wait_until(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_login_answers_a_bearer_token_pair(plenty: PlentyServer) -> None:
    body = plenty.login()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["access_token"] and body["refresh_token"]
    answer = plenty.http.get(
        f"{plenty.url}/rest/orders/referrers",
        headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5,
    )
    assert answer.status_code == 200


def test_wrong_password_and_missing_or_unknown_tokens_are_401(plenty: PlentyServer) -> None:
    bad = plenty.http.post(f"{plenty.url}/rest/login",
                           json={"username": "spocc-demo", "password": "nope"}, timeout=5)
    assert bad.status_code == 401
    assert plenty.http.get(f"{plenty.url}/rest/tags", timeout=5).status_code == 401
    unknown = plenty.http.get(f"{plenty.url}/rest/tags",
                              headers={"Authorization": "Bearer not-a-token"}, timeout=5)
    assert unknown.status_code == 401


def test_expired_token_is_401_and_refresh_renews_it(plenty_factory: PlentyFactory) -> None:
    plenty = plenty_factory(token_ttl=0.5, refresh_ttl=30)
    tokens = plenty.login()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    url = f"{plenty.url}/rest/items/barcodes"
    assert plenty.http.get(url, headers=headers, timeout=5).status_code == 200
    assert _wait_until(lambda: plenty.http.get(url, headers=headers, timeout=5).status_code == 401)

    refreshed = plenty.http.post(f"{plenty.url}/rest/login/refresh",
                                 json={"refresh_token": tokens["refresh_token"]}, timeout=5)
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["access_token"] != tokens["access_token"]
    assert body["accessToken"] == body["access_token"]  # TokenData spelling too
    new_headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert plenty.http.get(url, headers=new_headers, timeout=5).status_code == 200
    assert plenty.admin("GET", "/sessions")["refreshes"] == 1
    # The refresh rotated the pair: the old refresh token is spent.
    spent = plenty.http.post(f"{plenty.url}/rest/login/refresh",
                             json={"refresh_token": tokens["refresh_token"]}, timeout=5)
    assert spent.status_code == 401
    assert body["refresh_token"] != tokens["refresh_token"]


def test_admin_expiry_forces_a_401_that_one_refresh_cures(plenty: PlentyServer) -> None:
    tokens = plenty.login()
    url = f"{plenty.url}/rest/orders/statuses"
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    plenty.admin("POST", "/tokens/expire")
    assert plenty.http.get(url, headers=headers, timeout=5).status_code == 401
    body = plenty.http.post(f"{plenty.url}/rest/login/refresh",
                            json={"refresh_token": tokens["refresh_token"]}, timeout=5).json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert plenty.http.get(url, headers=headers, timeout=5).status_code == 200


def test_unknown_refresh_token_is_401(plenty: PlentyServer) -> None:
    answer = plenty.http.post(f"{plenty.url}/rest/login/refresh",
                              json={"refresh_token": "forged"}, timeout=5)
    assert answer.status_code == 401


def test_one_login_too_many_is_429_too_many_concurrent_sessions(
    plenty_factory: PlentyFactory,
) -> None:
    plenty = plenty_factory(max_sessions=3)
    tokens = [plenty.login() for _ in range(3)]
    fourth = plenty.http.post(f"{plenty.url}/rest/login",
                              json={"username": "spocc-demo", "password": "demo-password"},
                              timeout=5)
    assert fourth.status_code == 429
    assert "too_many_concurrent_sessions" in fourth.text
    # The three live sessions keep working.
    for t in tokens:
        answer = plenty.http.get(f"{plenty.url}/rest/tags",
                                 headers={"Authorization": f"Bearer {t['access_token']}"},
                                 timeout=5)
        assert answer.status_code == 200
    sessions = plenty.admin("GET", "/sessions")
    assert sessions["live"] == {"spocc-demo": 3}
    assert sessions["rejectedLogins"] == 1


def test_sessions_free_up_when_they_expire(plenty_factory: PlentyFactory) -> None:
    plenty = plenty_factory(max_sessions=1, token_ttl=0.3, refresh_ttl=0.3)
    plenty.login()
    blocked = plenty.http.post(f"{plenty.url}/rest/login",
                               json={"username": "spocc-demo", "password": "demo-password"},
                               timeout=5)
    assert blocked.status_code == 429
    assert _wait_until(lambda: plenty.http.post(
        f"{plenty.url}/rest/login",
        json={"username": "spocc-demo", "password": "demo-password"}, timeout=5,
    ).status_code == 200)


def test_dropping_sessions_frees_the_limit(plenty_factory: PlentyFactory) -> None:
    plenty = plenty_factory(max_sessions=1)
    plenty.login()
    plenty.admin("DELETE", "/sessions")
    assert plenty.admin("GET", "/sessions")["live"] == {}
    plenty.login()
