"""A faithful PlentyONE REST sandbox: `create_app(...)` for tests, `serve(...)` to run it."""

from sandboxes.plentyone.app import create_app, sandbox_of
from sandboxes.plentyone.config import DEMO_PASSWORD, DEMO_USERNAME, RatePlan, SandboxConfig
from sandboxes.plentyone.runner import serve, start_background

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "RatePlan",
    "SandboxConfig",
    "create_app",
    "sandbox_of",
    "serve",
    "start_background",
]
