"""Prometheus metrics Flower does not have: queue depths and the durable state in SQL.

Flower's /metrics counts task events it happened to see; it cannot say how much work waits
in a queue, nor what failed for good. These gauges are read fresh on every scrape.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from store.models import DeadLetter, EventDelivery, SyncRun
from workers import runtime
from workers.settings import QUEUES


def _line(name: str, value: float, **labels: str) -> str:
    if labels:
        inner = ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value:g}"
    return f"{name} {value:g}"


def _esc(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, help_text: str, lines: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *lines]


def render() -> str:
    """The metrics in Prometheus' text format."""
    out: list[str] = []
    client = runtime.redis_client()
    out += _family("spocc_queue_depth", "Messages waiting in each Celery queue.",
                   (_line("spocc_queue_depth", int(client.llen(q)), queue=q) for q in QUEUES))
    out += _family("spocc_unacked_messages", "Messages delivered to a worker, not yet acked.",
                   [_line("spocc_unacked_messages", int(client.hlen("unacked")))])
    with runtime.db() as session:
        dead = session.execute(
            select(DeadLetter.connection_id, func.count())
            .where(DeadLetter.status == "open").group_by(DeadLetter.connection_id)
        ).all()
        deliveries = session.execute(
            select(EventDelivery.connection_id, EventDelivery.status, func.count())
            .where(EventDelivery.status != "done")
            .group_by(EventDelivery.connection_id, EventDelivery.status)
        ).all()
        runs = session.execute(
            select(SyncRun.connection_id, SyncRun.process, func.count())
            .where(SyncRun.status == "running")
            .group_by(SyncRun.connection_id, SyncRun.process)
        ).all()
    out += _family("spocc_dead_letters_open", "Dead letters waiting for an operator.",
                   (_line("spocc_dead_letters_open", n, connection=c or "") for c, n in dead))
    out += _family("spocc_event_deliveries_unfinished", "Order events not yet done, by status.",
                   (_line("spocc_event_deliveries_unfinished", n, connection=c, status=s)
                    for c, s, n in deliveries))
    out += _family("spocc_sync_runs_running", "Periodic sync runs in progress.",
                   (_line("spocc_sync_runs_running", n, connection=c, process=p)
                    for c, p, n in runs))
    return "\n".join(out) + "\n"
