"""Removing a connection removes its rows and its Redis keys and the work queued for it;
other connections keep everything, and the audit keeps who removed it (issue 10, item 4)."""

from __future__ import annotations

import uuid
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select

from cli.main import cli
from store import audit, config_store
from store.db import session_scope
from store.models import Connection, DeadLetter, EventDelivery, IdempotencyKey, SyncRun
from store.operator_models import ConfigRevision
from tests.conftest import connection_document, rows_of_a_connection
from workers import runtime

ROWS = (Connection, ConfigRevision, EventDelivery, IdempotencyKey, SyncRun, DeadLetter)


def _stored(url: str) -> tuple[str, str]:
    gone, kept = (f"rm-{uuid.uuid4().hex[:8]}" for _ in range(2))
    with session_scope(url) as s:
        for cid in (gone, kept):
            config_store.apply(s, runtime.secret_box(), connection_document(
                cid, "http://127.0.0.1:1", "http://127.0.0.1:2"), actor="test")
            s.add_all(rows_of_a_connection(cid, order_id=7))
    return gone, kept


def _count(url: str, model: Any, cid: str) -> int:
    column = model.id if model is Connection else model.connection_id
    with session_scope(url) as s:
        return int(s.execute(select(func.count()).select_from(model).where(column == cid))
                   .scalar_one())


def test_config_remove_takes_a_connections_rows_keys_and_queued_work(spocc_env: Any) -> None:
    from workers.celery_app import app

    url = spocc_env.database_url
    gone, kept = _stored(url)
    client = runtime.redis_client()
    for cid in (gone, kept):
        client.set(f"spocc:{cid}:plentyone:budget", "5")
        app.send_task("spocc.orders.paid", kwargs={"connection_id": cid, "delivery_id": 1},
                      queue="orders")
    try:
        refused = CliRunner().invoke(cli, ["config", "remove", gone])
        assert refused.exit_code == 2 and "--yes" in refused.output
        assert _count(url, Connection, gone) == 1
        unknown = CliRunner().invoke(cli, ["config", "remove", "no-such-shop", "--yes"])
        assert unknown.exit_code == 2 and "no-such-shop" in unknown.output

        done = CliRunner().invoke(cli, ["config", "remove", gone, "--yes", "--actor", "erika",
                                        "--reason", "retailer left"])
        assert done.exit_code == 0, done.output
        assert f"removed connection {gone}" in done.output
        for model in ROWS:
            assert _count(url, model, gone) == 0, model.__tablename__
            assert _count(url, model, kept) >= 1, model.__tablename__
        assert client.keys(f"spocc:{gone}:*") == [] and client.keys(f"spocc:{kept}:*") != []
        from workers.purge import queued_for

        assert queued_for(client, [gone]) == 0 and queued_for(client, [kept]) == 1
        with session_scope(url) as s:
            [entry] = [e for e in audit.recent(s, subject=f"connection:{gone}")
                       if e.action == "connection.remove"]
        assert (entry.actor, entry.action, entry.reason) == (
            "erika", "connection.remove", "retailer left")
    finally:
        from workers.purge import forget_in_redis

        forget_in_redis(client, [gone, kept])
