"""Start the SPoCC sandbox on a real socket: in a background thread (tests, `spocc up`) or in
the foreground (`python -m sandboxes.spocc`, `spocc sandbox spocc`)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from sandboxes.catalogue import DEFAULT_SEED, DEFAULT_VARIATIONS
from sandboxes.common.admin import SandboxAdmin
from sandboxes.common.server import BackgroundServer
from sandboxes.spocc.app import create_app
from sandboxes.spocc.auth import API_NAMES, Credentials
from sandboxes.spocc.state import SpoccState


@dataclass
class RunningSpocc:
    """A started sandbox: its URL, the credentials it accepts, and its state for tests."""

    server: BackgroundServer
    app: Flask
    credentials: Credentials

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state(self) -> SpoccState:
        state: SpoccState = self.app.extensions["spocc_state"]
        return state

    @property
    def admin(self) -> SandboxAdmin:
        admin: SandboxAdmin = self.app.extensions["sandbox_admin"]
        return admin

    def stop(self) -> None:
        self.admin.faults.clear()  # lets hanging requests go
        self.server.shutdown()

    def __enter__(self) -> RunningSpocc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    variations: int = DEFAULT_VARIATIONS,
    seed: int = DEFAULT_SEED,
    credentials: Credentials | None = None,
) -> RunningSpocc:
    credentials = credentials or Credentials()
    app = create_app(variations=variations, seed=seed, credentials=credentials)
    server = BackgroundServer(app, host=host, port=port).start()
    return RunningSpocc(server, app, credentials)


def banner(url: str, credentials: Credentials) -> str:
    lines = [
        f"SPoCC sandbox at {url}",
        f"  Retailer ID (X-Retailer-Id):  {credentials.retailer_id}",
    ]
    lines += [f"  {api} API key (X-Api-Key):  {credentials.keys[api]}" for api in API_NAMES]
    lines.append(f"  admin: {url}/__admin/info, /__admin/ledger, /__admin/faults, /__admin/stats")
    return "\n".join(lines)


def serve(
    host: str = "127.0.0.1",
    port: int = 8082,
    variations: int = DEFAULT_VARIATIONS,
    seed: int = DEFAULT_SEED,
) -> None:
    """Serve in the foreground until interrupted, after printing URL and demo keys."""
    credentials = Credentials()
    app = create_app(variations=variations, seed=seed, credentials=credentials)
    server = BackgroundServer(app, host=host, port=port)
    print(banner(server.url, credentials), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
