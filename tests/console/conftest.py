"""The console as a real server (`spocc ops` under gunicorn) and a real browser (Debian's
headless Chromium driven by playwright) for the console tests.

Every page a test opens is screenshotted into `artifacts/console/<test>/` (ignored by git;
CI keeps it), and fails the test on a browser console error or a secret canary in the page.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import SpoccEnv, connection_document
from tests.support.processes import ROOT, SpoccProcess, free_port, wait_until

CHROMIUM = os.environ.get("SPOCC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("SPOCC_ARTIFACTS", ROOT / "artifacts")) / "console"
# Written into every secret the console could leak; no page may ever contain it.
CANARY = "CANARY-7f3a9c-SECRET"
OPERATOR, OPERATOR_PASSWORD = "alice", "alice-password-123"
VIEWER, VIEWER_PASSWORD = "victor", "victor-password-123"
# only the throttling test logs in (and fails) as this one
TARGET, TARGET_PASSWORD = "tess", "tess-password-1234"


@dataclass
class ConsoleServer:
    url: str
    process: SpoccProcess


def users_spec() -> str:
    from console.users import entry

    return ",".join([
        entry(OPERATOR, "operator", OPERATOR_PASSWORD),
        entry(VIEWER, "viewer", VIEWER_PASSWORD),
        entry(TARGET, "viewer", TARGET_PASSWORD),
    ])


@contextmanager
def running_console(env: dict[str, str], log_dir: Path) -> Iterator[ConsoleServer]:
    """`spocc ops` on a free port with the test users, until the block ends."""
    port = free_port()
    env = {**env, "SPOCC_CONSOLE_USERS": users_spec(), "SPOCC_CONSOLE_LOGIN_FAILURES": "3"}
    proc = SpoccProcess(["ops", "--port", str(port), "-w", "2"], env, log_dir,
                        "console").start()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.proc is not None and proc.proc.poll() is None, proc.log()
        try:
            return requests.get(f"{url}/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    wait_until(up, 60, "the console to answer")
    try:
        yield ConsoleServer(url, proc)
    finally:
        proc.stop()
        assert "Traceback" not in proc.log(), proc.log()


@pytest.fixture(scope="module")
def console_server(spocc_env: SpoccEnv, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[ConsoleServer]:
    with running_console(spocc_env.env, tmp_path_factory.mktemp("console")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Visitor:
    """One browser context (one person); `open` shows a page and checks it."""

    page: Any
    base: str
    shots: Path
    label: str
    errors: list[str] = field(default_factory=list)
    n: int = 0

    def shot(self, name: str) -> Path:
        self.n += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        path = self.shots / f"{self.label}-{self.n:02d}-{slug}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check(self, name: str) -> str:
        self.shot(name)
        html = self.page.content()
        assert CANARY not in html, f"secret canary on page {self.page.url}"
        assert not self.errors, f"browser console errors on {self.page.url}: {self.errors}"
        return html

    def open(self, path: str, name: str | None = None) -> str:
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        return self.check(name or path)

    def login(self, name: str, password: str) -> None:
        self.page.goto(self.base + "/login")
        self.check("login")
        self.page.fill("input[name=name]", name)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        assert not self.page.url.endswith("/login"), "login failed"
        self.check(f"after login {name}")

    def cookies(self) -> list[dict[str, Any]]:
        return list(self.page.context.cookies())


@pytest.fixture
def visitor(browser: Any, console_server: ConsoleServer, request: pytest.FixtureRequest
            ) -> Iterator[Callable[..., Visitor]]:
    shots = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    contexts: list[Any] = []

    def make(server: ConsoleServer | None = None) -> Visitor:
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        v = Visitor(page, (server or console_server).url, shots, f"person{len(contexts)}")
        page.on("console", lambda m: m.type == "error" and v.errors.append(m.text))
        page.on("pageerror", lambda e: v.errors.append(str(e)))
        return v

    yield make
    for ctx in contexts:
        ctx.close()


def canary_connection(conn_id: str) -> dict[str, Any]:
    """A connection document whose every secret carries the canary."""
    doc = connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9")
    conn = doc["connections"][0]
    for section, key in (("spocc", "content_api_key"), ("spocc", "stock_api_key"),
                         ("spocc", "transaction_api_key"), ("plentyone", "password"),
                         ("webhooks", "token")):
        conn.setdefault(section, {})[key] = f"{CANARY}-{key}"
    return doc
