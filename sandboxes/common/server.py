"""Run a sandbox WSGI app on a real socket, in the foreground or in a background thread.

A threaded werkzeug server keeps the sandbox's state in one process (its own in-memory
store), which is what tests and `spocc up` want; it serves a few thousand small requests a
second, well above any PlentyONE plan.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """Request logging off: benchmarks push tens of thousands of calls through a sandbox."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class BackgroundServer:
    """A sandbox listening on host:port; `port=0` picks a free port (see `.url`)."""

    def __init__(self, app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        if isinstance(self._server, ThreadingMixIn):
            self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.app = app

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    def start(self) -> BackgroundServer:
        # A short poll interval: shutdown() waits for the loop to notice, and tests start
        # and stop a sandbox per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
