"""Read-only pages: the overview (system and connections) and one connection."""

from __future__ import annotations

import redis
from flask import Blueprint, abort, render_template
from sqlalchemy import func, select

from console import connection_view, system
from store import config_store
from store.models import Connection, DeadLetter
from workers import runtime

bp = Blueprint("pages", __name__)
HISTORY = 20  # configuration revisions shown, newest first


@bp.get("/")
def overview() -> str:
    view = system.read()
    conns: list[dict[str, object]] = []
    unowned = 0
    if view.database.ok:
        with runtime.db() as session:
            open_dl = dict(session.execute(
                select(DeadLetter.connection_id, func.count())
                .where(DeadLetter.status.in_(("open", "replayed")))
                .group_by(DeadLetter.connection_id)
            ).all())
            unowned = int(open_dl.pop(None, 0))
            for row in session.execute(select(Connection).order_by(Connection.id)).scalars():
                procs = connection_view.processes(session, row)
                conns.append({
                    "row": row,
                    "dead_letters": int(open_dl.get(row.id, 0)),
                    "overdue": [p.process for p in procs if p.overdue],
                    "running": [p.process for p in procs if p.progress is not None],
                    "orders": connection_view.orders_needing_attention_count(session, row.id),
                })
    return render_template("overview.html", system=view, connections=conns, unowned=unowned)


@bp.get("/connections/<conn_id>")
def connection(conn_id: str) -> str:
    with runtime.db() as session:
        row = session.get(Connection, conn_id)
        if row is None:
            abort(404, f"no connection {conn_id!r}")
        procs = connection_view.processes(session, row)
        orders = connection_view.orders_needing_attention(session, conn_id)
        events = connection_view.events_waiting(session, conn_id)
        history = [
            (rev, config_store.revision_diff(session, conn_id, rev.revision))
            for rev in config_store.history(session, conn_id, limit=HISTORY)
        ]
    try:
        apis = connection_view.apis(runtime.redis_client(), conn_id)
        apis_error = None
    except (redis.RedisError, RuntimeError) as exc:  # the rest of the page still tells the truth
        apis, apis_error = [], f"Redis unreachable: {type(exc).__name__}"
    return render_template(
        "connection.html", conn=row, processes=procs, orders=orders, events=events,
        apis=apis, apis_error=apis_error, history=history,
    )
