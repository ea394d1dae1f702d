"""Fair shares of the order workers between connections (issue 10 item 2).

The `orders` queue is one FIFO for every retailer, so a burst of one connection's events
would hold up another's registration behind all of it. A connection running `share.orders`
of its events or more yields a worker (its event is deferred, not an attempt) while another
connection has an event waiting and fewer running: Oban's partitioned limit, but only
while somebody waits, so a connection alone still has every worker (max-min fairness).
The deferred events go behind the waiting ones, which is the round-robin.

Soft, not a lock: two claims at the same moment may both see room. One statement counts
the running events of every connection (at most the workers' slots); the waiting ones are
read only when this connection is at its share.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.models import EventDelivery


def yields(session: Session, connection_id: str, share: int, now: datetime) -> bool:
    """Whether this connection's next event must give its worker to another connection."""
    running = dict(session.execute(
        select(EventDelivery.connection_id, func.count())
        .where(EventDelivery.status == "running", EventDelivery.next_attempt_at > now)
        .group_by(EventDelivery.connection_id)).tuples().all())
    mine = running.get(connection_id, 0)
    if mine < share:
        return False
    # two ranges of the (status, connection) index: not a scan of this connection's backlog
    waiting = session.execute(
        select(EventDelivery.connection_id)
        .where(EventDelivery.status == "pending",
               or_(EventDelivery.connection_id < connection_id,
                   EventDelivery.connection_id > connection_id))
        .distinct()).scalars()
    return any(running.get(other, 0) < mine for other in waiting)
