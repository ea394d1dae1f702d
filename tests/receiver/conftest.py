"""A real receiver (`spocc webhooks` under gunicorn) on a free loopback port, and a stored
connection with a token and a signing secret. No worker: enqueued events stay in Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import SpoccEnv, connection_document
from tests.support.processes import SpoccProcess, free_port, wait_until

TOKEN = "receiver-test-token-0123456789"
SIGNING_SECRET = "whsec_cmVjZWl2ZXItdGVzdC1zaWduaW5nLXNlY3JldA=="
SIGN_KEY = "plenty-subscription-sign-key-0123"


@dataclass
class Receiver:
    url: str
    process: SpoccProcess

    def hook(self, connection_id: str, event: str) -> str:
        return f"{self.url}/hooks/{connection_id}/{event}"


def start_receiver(env: dict[str, str], log_dir: Path, name: str = "receiver",
                   workers: int = 2) -> Receiver:
    port = free_port()
    proc = SpoccProcess(["webhooks", "--port", str(port), "--workers", str(workers)], env,
                        log_dir, name).start()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(up, 60, "the receiver to answer /healthz")
    except AssertionError:
        proc.stop()
        raise AssertionError(proc.log()) from None
    return Receiver(url, proc)


@pytest.fixture(scope="module")
def receiver(spocc_env: SpoccEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    rec = start_receiver(spocc_env.env, tmp_path_factory.mktemp("receiver"))
    yield rec
    rec.process.stop()


@pytest.fixture
def hook_connection(spocc_env: SpoccEnv) -> str:
    """A connection id with the test token, signing secret and PlentyONE sign key (no
    sandbox behind it)."""
    from store import config_store
    from store.db import session_scope
    from workers import runtime

    conn_id = f"r-{uuid.uuid4().hex[:8]}"
    doc = connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9",
                              webhooks={"token": TOKEN, "signing_secret": SIGNING_SECRET,
                                        "plentyone_sign_key": SIGN_KEY})
    with session_scope(spocc_env.database_url) as session:
        config_store.apply(session, runtime.secret_box(), doc)
    return conn_id
