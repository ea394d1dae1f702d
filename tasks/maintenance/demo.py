"""A task `spocc up` sends through a real worker to show the system works end to end."""

from __future__ import annotations

import socket
from typing import Any

from workers.declare import spocc_task


@spocc_task("spocc.maintenance.ping", queue="default", max_retries=0)
def ping(self: Any, note: str = "") -> dict[str, str]:
    return {"host": socket.gethostname(), "task_id": str(self.request.id), "note": note}
