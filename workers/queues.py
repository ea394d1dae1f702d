"""Queue depth with message priorities. On Redis, kombu keeps one list per priority step for
each queue (`catalogue`, `catalogue\\x06\\x163`, …) and a worker takes from the lowest step
first, so a message sent with priority 0 passes every message of a higher number that waits
in the same queue. Anything that counts a queue counts every step."""

from __future__ import annotations

import base64
import json
from typing import Any

# kombu's own default, stated here because the depth below must list the same keys.
PRIORITY_STEPS = (0, 3, 6, 9)
SEP = "\x06\x16"


def keys(queue: str, up_to: int = PRIORITY_STEPS[-1]) -> list[str]:
    """The lists of `queue`, from the first served to the step of priority `up_to`."""
    return [queue if step == 0 else f"{queue}{SEP}{step}" for step in PRIORITY_STEPS
            if step <= up_to]


def depth(client: Any, queue: str, up_to: int = PRIORITY_STEPS[-1]) -> int:
    """Messages waiting in `queue` at priorities served no later than `up_to` (all by
    default), in one round trip."""
    pipe = client.pipeline(transaction=False)
    for key in keys(queue, up_to):
        pipe.llen(key)
    return sum(int(n) for n in pipe.execute())


def call_of(raw: bytes | str) -> tuple[list[Any], dict[str, Any]] | None:
    """The positional and keyword arguments of a queued kombu message (JSON whose body is
    base64 JSON `[args, kwargs, embed]`); None for anything else."""
    try:
        args, kwargs, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return None
    return args, kwargs


def connection_of(raw: bytes | str) -> str | None:
    """The connection a queued message is for: `connection_id` in its kwargs, else a first
    positional string."""
    call = call_of(raw)
    if call is None:
        return None
    args, kwargs = call
    value = kwargs.get("connection_id")
    if value is None and args and isinstance(args[0], str):
        value = args[0]
    return value if isinstance(value, str) else None
