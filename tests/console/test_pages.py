"""What an operator finds on the console's pages, each condition made first in the store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SpoccEnv
from tests.console.conftest import (
    CANARY,
    OPERATOR,
    OPERATOR_PASSWORD,
    ConsoleServer,
    canary_connection,
    running_console,
)

pytestmark = pytest.mark.slow


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, spocc_env: SpoccEnv, tmp_path: Path) -> str:
    """The session's PostgreSQL database, or a SQLite file as `spocc up` keeps (naive times)."""
    if request.param == "postgresql":
        return spocc_env.database_url
    from store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'spocc.db'}"
    upgrade(url)
    return url


@pytest.fixture
def server(database: str, spocc_env: SpoccEnv, tmp_path: Path) -> Iterator[ConsoleServer]:
    env = {**spocc_env.env, "SPOCC_DATABASE_URL": database}
    with running_console(env, tmp_path) as running:
        yield running


@pytest.fixture
def troubled_connection(database: str) -> str:
    """A connection with a held order, a waiting event, an overdue process, a run in
    progress, a dead letter and an open breaker, every secret and error text carrying the
    canary."""
    from clients.breaker import CircuitBreaker
    from clients.ratelimit import RateLimiter
    from clients.status import PLENTYONE, scope
    from store import config_store, dead_letters
    from store.db import session_scope
    from store.models import EventDelivery, SyncRun, utcnow
    from store.order_models import HELD, OrderState
    from workers import runtime

    conn_id = f"c-{uuid.uuid4().hex[:8]}"
    now = utcnow()
    with session_scope(database) as session:
        config_store.apply(session, runtime.secret_box(), canary_connection(conn_id),
                           actor="alice@ops-laptop")
    changed = canary_connection(conn_id)
    changed["connections"][0]["plentyone"]["password"] = f"{CANARY}-rotated"
    changed["connections"][0]["processes"] = {"images": {"interval_minutes": 120}}
    with session_scope(database) as session:
        config_store.apply(session, runtime.secret_box(), changed, actor="bob@ops-laptop")
    with session_scope(database) as session:
        session.add(OrderState(
            connection_id=conn_id, plenty_order_id=4711, registration=HELD,
            cause="held: no SPoCC referrer mapped for referrer 9",
            updated_at=now - timedelta(minutes=42),
        ))
        session.add(EventDelivery(
            connection_id=conn_id, event_type="order_paid", order_id=4711, status="held",
            attempts=1, last_error="waits for the registration of order 4711",
            payload={"orderId": 4711}, created_at=now - timedelta(minutes=40),
        ))
        session.add(SyncRun(
            connection_id=conn_id, process="stock_delta", slot="2026-01-01T00:00Z/15m",
            status="succeeded", started_at=now - timedelta(hours=3),
            finished_at=now - timedelta(hours=3), found=12, pushed=7, unchanged=5, options={},
        ))
        session.add(SyncRun(
            connection_id=conn_id, process="stock_full", slot="2026-01-01T00:00Z/1440m",
            status="running", started_at=now - timedelta(minutes=5), found=1000, pushed=300,
            unchanged=150, planned=True, options={},
        ))
        dead_letters.add(
            session, task_name="spocc.orders.register", task_id=str(uuid.uuid4()),
            queue="orders", connection_id=conn_id,
            args=[], kwargs={"connection_id": conn_id, "delivery_id": 1, "password": CANARY},
            last_error=f"PermanentError: POST /orders?token={CANARY}: 422 invalid order",
            attempts=1,
        )
    key = f"{scope('spocc:', conn_id, PLENTYONE)}:breaker"
    breaker = CircuitBreaker(runtime.redis_client(), key)
    for _ in range(breaker.settings.threshold):
        breaker.record_failure(f"ServerError: GET /rest/orders?apiKey={CANARY}: 503")
    plenty = scope("spocc:", conn_id, PLENTYONE)
    RateLimiter(runtime.redis_client(), f"{plenty}:rl:write").observe({
        "X-Plenty-Global-Short-Period-Limit": "40",
        "X-Plenty-Global-Short-Period-Calls-Left": "7",
        "X-Plenty-Global-Short-Period-Decay": "60",
    })
    RateLimiter(runtime.redis_client(), f"{plenty}:rl:read").block_for(120)
    return conn_id


@pytest.fixture
def silent_beat(database: str) -> None:
    """The leading beat's last tick, 10 minutes ago."""
    from store.beat_models import BeatHeartbeat
    from store.db import session_scope
    from store.models import utcnow
    from workers.beat_health import ROLE

    with session_scope(database) as session:
        row = session.get(BeatHeartbeat, ROLE) or BeatHeartbeat(name=ROLE)
        row.holder, row.ticked_at = "beat-host:4242", utcnow() - timedelta(minutes=10)
        session.add(row)


def test_each_condition_is_on_its_page(visitor: Any, server: ConsoleServer,
                                       troubled_connection: str, silent_beat: None) -> None:
    v = visitor(server)
    v.login(OPERATOR, OPERATOR_PASSWORD)
    html = v.open("/", "overview")
    row = v.page.locator(f"#conn-{troubled_connection}")
    assert "stock_delta" in row.inner_text()  # overdue
    assert "silent for" in v.page.locator("#sys-beat").inner_text()
    assert "no consumer" in v.page.locator("#queue-orders").inner_text()
    assert "reachable" in v.page.locator("#sys-database").inner_text()

    v.open(f"/connections/{troubled_connection}", "connection")
    delta = v.page.locator("#process-stock_delta").inner_text()
    assert "overdue: no successful run since" in delta and "found 12, pushed 7" in delta
    full = v.page.locator("#process-stock_full")
    assert "450/1000 (45 %)" in full.inner_text()
    assert full.locator("progress").get_attribute("value") == "450"
    assert "waits for its next slot" in v.page.locator("#process-attributes").inner_text()
    order = v.page.locator("#order-4711").inner_text()
    assert "registration: held" in order and "no SPoCC referrer mapped" in order
    assert "42 min" in order
    assert "waits for the registration" in v.page.locator("#events").inner_text()
    plenty = v.page.locator("#api-plentyone").inner_text()
    assert "open" in plenty and "********" in plenty
    assert "/40 left" in plenty and "waiting out Retry-After" in plenty

    newest = v.page.locator("#revision-2").inner_text()
    assert "bob@ops-laptop" in newest and "plentyone.password" in newest
    assert "+  images:" in newest and "interval_minutes: 120" in newest
    assert "+  password: '******** (changed)'" in newest
    assert "alice@ops-laptop" in v.page.locator("#revision-1").inner_text()
    assert "2 h" in v.page.locator("#process-images").inner_text()

    v.open(f"/dead-letters?connection={troubled_connection}", "dead letters of the connection")
    group = v.page.locator("tr.group").first.inner_text()
    assert "spocc.orders.register" in group and "PermanentError" in group
    v.open(f"/dead-letters?connection={troubled_connection}&age=older-1h", "older than an hour")
    assert v.page.locator("tr.group").count() == 0
    v.open(f"/dead-letters?connection={troubled_connection}&age=newer-1h", "in the last hour")
    assert v.page.locator("tr.group").count() == 1
    bad = v.page.request.get(f"{v.base}/dead-letters?age=yesterday")
    assert bad.status == 400 and "age: one of" in bad.text()
    v.page.locator("#letters a").first.click()
    html = v.check("one dead letter")
    assert "422 invalid order" in html and "********" in html
    assert CANARY not in html
