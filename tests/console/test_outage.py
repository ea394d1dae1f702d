"""With Redis gone the console still logs people in and says what is down."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SpoccEnv, connection_document
from tests.console.conftest import OPERATOR, OPERATOR_PASSWORD, running_console
from tests.support.own_redis import OwnRedis

pytestmark = pytest.mark.slow
NOTHING = "\u2013"  # what a page shows for a figure it could not read


def test_pages_tell_redis_is_down(spocc_env: SpoccEnv, visitor: Any, tmp_path: Path) -> None:
    from store import config_store
    from workers import runtime

    conn_id = f"o-{uuid.uuid4().hex[:8]}"
    with runtime.db() as session:
        doc = connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9")
        config_store.apply(session, runtime.secret_box(), doc)
    own = OwnRedis(tmp_path / "redis").start()
    env = {**spocc_env.env, "SPOCC_BROKER_URL": own.url, "SPOCC_REDIS_URL": own.url}
    try:
        with running_console(env, tmp_path) as server:
            own.kill()
            v = visitor(server)
            started = time.monotonic()
            v.login(OPERATOR, OPERATOR_PASSWORD)
            v.open("/", "overview without redis")
            assert "unreachable" in v.page.locator("#sys-redis").inner_text()
            assert v.page.locator("#sys-database td").inner_text() == "reachable"
            assert v.page.locator("#queue-orders td.num").inner_text() == NOTHING
            v.open(f"/connections/{conn_id}", "connection without redis")
            assert "Redis unreachable" in v.page.locator("#apis").inner_text()
            assert "waits for its next slot" in v.page.locator("#processes").inner_text()
            assert time.monotonic() - started < 30
    finally:
        own.kill()
