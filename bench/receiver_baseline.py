"""The receiver benchmark's baseline: a bare Flask route under the same gunicorn settings
that only calls `.delay()` (no authentication, validation or database)."""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask


def create_app() -> Flask:
    from tasks.maintenance.bench import noop

    app = Flask("baseline")

    @app.post("/hooks/<connection_id>/<event>")
    def hook(connection_id: str, event: str) -> tuple[str, int]:
        noop.delay()
        return "", 200

    return app


def main(port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    from cli.webhooks_cmd import gunicorn_options

    options = gunicorn_options("127.0.0.1", port, workers, None)

    class Baseline(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app()

    Baseline().run()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
