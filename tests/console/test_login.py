"""Who gets in: no default login, hashed passwords only, throttled failures, cookies that
scripts cannot read, sessions that end."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import requests

from tests.conftest import SpoccEnv
from tests.console.conftest import (
    OPERATOR,
    OPERATOR_PASSWORD,
    TARGET,
    TARGET_PASSWORD,
    ConsoleServer,
)
from tests.support.processes import ROOT


def _ops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", "ops", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_console_refuses_to_start_without_users(spocc_env: SpoccEnv) -> None:
    env = {k: v for k, v in spocc_env.env.items() if not k.startswith("SPOCC_CONSOLE_")}
    done = _ops(env, "--port", "1")
    assert done.returncode == 1
    assert "no console users configured" in done.stderr + done.stdout
    assert "SPOCC_CONSOLE_USERS=" in done.stderr + done.stdout


def test_a_password_in_clear_is_refused_and_not_echoed(spocc_env: SpoccEnv) -> None:
    env = {**spocc_env.env, "SPOCC_CONSOLE_USERS": "alice:operator:hunter2-in-clear"}
    done = _ops(env, "--port", "1")
    assert done.returncode == 1
    assert "must be a hash" in done.stderr + done.stdout
    assert "hunter2" not in done.stderr + done.stdout


def test_ops_user_makes_an_entry_that_logs_in(spocc_env: SpoccEnv) -> None:
    from console.users import authenticate, parse

    done = _ops(spocc_env.env, "user", "carol", "--role", "operator",
                "--password", "carol-password-42")
    assert done.returncode == 0, done.stderr
    users = parse(done.stdout.strip())
    assert "carol-password-42" not in done.stdout
    assert authenticate(users, "carol", "carol-password-42") == users["carol"]
    assert authenticate(users, "carol", "wrong") is None
    assert users["carol"].may_act


def _csrf(session: requests.Session, url: str) -> str:
    html = session.get(url, timeout=10).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _login(session: requests.Session, base: str, name: str, password: str) -> requests.Response:
    token = _csrf(session, f"{base}/login")
    return session.post(f"{base}/login", data={"csrf_token": token, "name": name,
                        "password": password}, allow_redirects=False, timeout=10)


def test_failed_logins_are_throttled_per_user(console_server: ConsoleServer) -> None:
    base = console_server.url
    s = requests.Session()
    for _ in range(3):  # SPOCC_CONSOLE_LOGIN_FAILURES=3 in this server
        assert _login(s, base, TARGET, "not the password").status_code == 401
    # the fourth try is refused before the password is looked at, even the right one
    answer = _login(s, base, TARGET, TARGET_PASSWORD)
    assert answer.status_code == 429
    assert "too many failed logins" in answer.text
    # another user is not locked out by the attack on this one
    assert _login(requests.Session(), base, OPERATOR, OPERATOR_PASSWORD).status_code == 302


def test_pages_need_a_login_and_its_cookie_is_http_only(visitor: Any) -> None:
    v = visitor()
    v.page.goto(v.base + "/dead-letters?status=all")
    assert "/login?next=" in v.page.url
    v.check("redirected to login")
    v.page.fill("input[name=name]", OPERATOR)
    v.page.fill("input[name=password]", OPERATOR_PASSWORD)
    v.page.click("button[type=submit]")
    assert v.page.url.endswith("/dead-letters?status=all")  # back where the person was going
    v.check("back at the inbox")
    cookie = next(c for c in v.cookies() if c["name"] == "spocc_console")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert v.page.evaluate("document.cookie") == ""
    v.page.click("button.link")  # log out (a POST with its CSRF token)
    assert "/login" in v.page.url
    v.page.goto(v.base + "/")
    assert "/login" in v.page.url


def test_a_session_ends_after_its_lifetime(spocc_env: SpoccEnv) -> None:
    from console.app import create_app
    from console.settings import ConsoleSettings
    from console.users import parse
    from tests.console.conftest import users_spec

    console = ConsoleSettings(users=parse(users_spec()), secret_key="k" * 40,
                              session_minutes=30, secure_cookies=False,
                              login_failures_per_user=5, login_failures_per_address=20)
    app = create_app(console)
    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    client = app.test_client()

    def with_session(age_seconds: float, user: str = OPERATOR) -> int:
        cookie = signer.dumps({"user": user, "at": int(time.time() - age_seconds)})
        client.set_cookie("spocc_console", cookie)
        return client.get("/").status_code

    assert with_session(29 * 60) == 200
    assert with_session(31 * 60) == 302  # to the login page
    assert with_session(60, user="mallory") == 302  # a user no longer configured
