"""A connection's traces in Redis: its keys and the messages queued or unacked for it."""

from __future__ import annotations

import json
from typing import Any

from workers.queues import connection_of
from workers.settings import QUEUES


def forget_in_redis(client: Any, connection_ids: list[str]) -> dict[str, int]:
    """These connections' keys (`spocc:<id>:…`: budgets, breakers, tokens, "run followed"
    marks) and the messages queued or unacked for them: row ids start again after a reset,
    so an old message for delivery 5 would otherwise run the new delivery 5. Other
    connections' keys and work stay."""
    wanted = set(connection_ids)
    keys = [k for cid in connection_ids for k in client.scan_iter(f"spocc:{cid}:*", count=1000)]
    if keys:
        client.delete(*keys)
    messages = 0
    for key in _queue_keys(client):
        for raw in client.lrange(key, 0, -1):
            if connection_of(raw) in wanted:
                messages += int(client.lrem(key, 0, raw))
    for tag, raw in client.hgetall("unacked").items():
        try:
            message = json.dumps(json.loads(raw)[0])
        except (ValueError, IndexError, TypeError):
            continue
        if connection_of(message.encode()) in wanted:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
            messages += 1
    return {"keys": len(keys), "messages": messages}


def queued_for(client: Any, connection_ids: list[str]) -> int:
    """How many messages wait in the queues for these connections."""
    wanted = set(connection_ids)
    return sum(
        connection_of(raw) in wanted
        for key in _queue_keys(client)
        for raw in client.lrange(key, 0, -1)
    )


def _queue_keys(client: Any) -> list[bytes]:
    # kombu keeps a queue's priorities in lists named queue + "\x06\x16" + priority
    return [key for key in client.scan_iter(count=1000)
            if key.decode(errors="replace").split("\x06")[0] in QUEUES
            and client.type(key) == b"list"]
