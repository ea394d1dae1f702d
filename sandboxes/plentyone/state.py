"""Everything one PlentyONE sandbox holds, reachable from a request as `sandbox()`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app

from sandboxes.common.ledger import Ledger
from sandboxes.plentyone.auth import Sessions
from sandboxes.plentyone.config import SandboxConfig
from sandboxes.plentyone.lookups import seed_lookups
from sandboxes.plentyone.ratelimit import RateLimiter
from sandboxes.plentyone.store import Store

if TYPE_CHECKING:
    from sandboxes.common.admin import SandboxAdmin
    from sandboxes.plentyone.contract import ContractChecker

EXTENSION = "plentyone_sandbox"


class Sandbox:
    """Store, sessions, limiter, event procedures and webhook subscriptions; ledger, faults
    and stats come from the shared admin surface once `attach` is called."""

    def __init__(self, config: SandboxConfig) -> None:
        from sandboxes.plentyone.events import EventDispatcher
        from sandboxes.plentyone.subscriptions import WebhookSender

        self.config = config
        self.store = Store()
        self.ledger = Ledger()
        self.admin: SandboxAdmin | None = None
        self.contract: ContractChecker | None = None
        self.sessions = Sessions(self.store, config)
        self.limiter = RateLimiter(config.plan)
        self.events = EventDispatcher(self)
        self.subscriptions = WebhookSender(self)
        self.populate()

    def attach(self, admin: SandboxAdmin) -> None:
        self.admin = admin
        self.ledger = admin.ledger

    def populate(self) -> None:
        from sandboxes.plentyone.catalogue_seed import seed_catalogue

        seed_lookups(self.store)
        if self.config.variations > 0:
            seed_catalogue(self.store, self.config.variations, self.config.seed)

    def reset_state(self) -> None:
        """Back to the state right after start (the admin surface clears ledger and stats)."""
        self.events.reset()
        self.subscriptions.reset()
        fresh = Store()
        with self.store.lock:
            for name in Store.__dataclass_fields__:
                if name != "lock":
                    setattr(self.store, name, getattr(fresh, name))
            self.limiter.set_plan(self.config.plan)
            self.populate()

    def record(self, kind: str, **data: Any) -> None:
        self.ledger.record(kind, data)


def sandbox() -> Sandbox:
    sb: Sandbox = current_app.extensions[EXTENSION]
    return sb
