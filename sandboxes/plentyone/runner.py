"""Run the PlentyONE sandbox: in the foreground (`serve`) or in a thread (tests, `spocc up`)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from sandboxes.common.server import BackgroundServer
from sandboxes.plentyone.app import create_app
from sandboxes.plentyone.config import RatePlan, SandboxConfig, plan_from_spec
from sandboxes.plentyone.lookups import LOOKUP_IDS


def _config(variations: int, seed: int, plan: object, **settings: Any) -> SandboxConfig:
    config = SandboxConfig(variations=variations, seed=seed,
                           plan=plan if isinstance(plan, RatePlan) else plan_from_spec(plan))
    for name, value in settings.items():
        if not hasattr(config, name):
            raise TypeError(f"unknown sandbox setting {name}")
        setattr(config, name, value)
    return config


def start_background(host: str = "127.0.0.1", port: int = 0, variations: int = 0,
                     seed: int = 1, plan: object = "off", **settings: Any) -> BackgroundServer:
    """A started sandbox in a daemon thread; `.url`, `.app`, `.shutdown()`."""
    app = create_app(_config(variations, seed, plan, **settings))
    return BackgroundServer(app, host=host, port=port).start()


def banner(url: str, config: SandboxConfig) -> str:
    creds = ", ".join(f"{u} / {p}" for u, p in config.accounts.items())
    plan = config.plan.to_dict()
    return "\n".join([
        f"PlentyONE sandbox listening on {url}",
        f"  REST base:        {url}/rest",
        f"  credentials:      {creds}  (POST {url}/rest/login)",
        f"  variations:       {config.variations} (seed {config.seed})",
        "  rate plan:        " + ("off" if plan["off"] else
                                  f"{plan['reads_per_minute']} reads / "
                                  f"{plan['writes_per_minute']} writes per "
                                  f"{plan['window_seconds']:g} s, daily cap "
                                  f"{plan['daily_cap']}"),
        f"  warehouses:       {LOOKUP_IDS['warehouses']}",
        f"  sales prices:     {LOOKUP_IDS['sales_prices']}",
        f"  barcode types:    {LOOKUP_IDS['barcode_types']}",
        f"  referrers:        {LOOKUP_IDS['referrers']}",
        f"  admin:            {url}/__admin/info",
    ])


def serve(host: str = "127.0.0.1", port: int = 8081, variations: int = 0, seed: int = 1,
          plan: object = "off", out: TextIO | None = None, **settings: Any) -> None:
    """Serve until interrupted, after printing the URL and the demo credentials."""
    config = _config(variations, seed, plan, **settings)
    server = BackgroundServer(create_app(config), host=host, port=port)
    print(banner(server.url, config), file=out or sys.stdout, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
