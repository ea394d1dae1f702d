"""Settings of one PlentyONE sandbox: accounts, token lifetimes, session limit, rate plan."""

from __future__ import annotations

from dataclasses import dataclass, field

DEMO_USERNAME = "spocc-demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the sandbox's published demo login


@dataclass
class RatePlan:
    """A PlentyONE API plan: calls per window by kind, and a daily cap over all calls.

    `None` for a limit means unlimited. `window_seconds` is the short period (a minute on the
    real system); tests shorten it so that "the window resets" happens within a test.
    """

    reads_per_window: int | None = 280
    writes_per_window: int | None = 120
    daily_cap: int | None = 100_000
    window_seconds: float = 60.0
    day_seconds: float = 86_400.0
    # Every route has its own budget too; by default it equals the kind's budget.
    route_limit: int | None = None

    @classmethod
    def off(cls) -> RatePlan:
        return cls(reads_per_window=None, writes_per_window=None, daily_cap=None, route_limit=None)

    @property
    def is_off(self) -> bool:
        return (
            self.reads_per_window is None
            and self.writes_per_window is None
            and self.daily_cap is None
            and self.route_limit is None
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "reads_per_minute": self.reads_per_window,
            "writes_per_minute": self.writes_per_window,
            "daily_cap": self.daily_cap,
            "window_seconds": self.window_seconds,
            "day_seconds": self.day_seconds,
            "route_limit": self.route_limit,
            "off": self.is_off,
        }


# The plan tiers PlentyONE documents (reads / writes per minute); daily caps are illustrative.
NAMED_PLANS: dict[str, tuple[int, int, int]] = {
    "basic": (80, 40, 20_000),
    "standard": (200, 80, 50_000),
    "professional": (240, 100, 75_000),
    "enterprise": (280, 120, 100_000),
}


def plan_from_spec(spec: object) -> RatePlan:
    """A plan from "off", a named tier, "reads/writes[/daily]" text, or a dict of limits."""
    if spec is None or spec == "off" or spec == {"plan": "off"}:
        return RatePlan.off()
    if isinstance(spec, RatePlan):
        return spec
    if isinstance(spec, str):
        if spec in NAMED_PLANS:
            reads, writes, daily = NAMED_PLANS[spec]
            return RatePlan(reads_per_window=reads, writes_per_window=writes, daily_cap=daily)
        parts = [p.strip() for p in spec.split("/")]
        if len(parts) in (2, 3) and all(p.isdigit() for p in parts):
            daily_cap = int(parts[2]) if len(parts) == 3 else None
            return RatePlan(int(parts[0]), int(parts[1]), daily_cap)
        raise ValueError(f"unknown plan {spec!r}: use off, a tier name, or reads/writes[/daily]")
    if isinstance(spec, dict):
        if spec.get("plan") == "off" or spec.get("off") is True:
            return RatePlan.off()
        base = plan_from_spec(spec["plan"]) if isinstance(spec.get("plan"), str) else RatePlan()
        return RatePlan(
            reads_per_window=_opt_int(spec, "reads_per_minute", base.reads_per_window),
            writes_per_window=_opt_int(spec, "writes_per_minute", base.writes_per_window),
            daily_cap=_opt_int(spec, "daily_cap", base.daily_cap),
            window_seconds=float(spec.get("window_seconds", base.window_seconds)),
            day_seconds=float(spec.get("day_seconds", base.day_seconds)),
            route_limit=_opt_int(spec, "route_limit", base.route_limit),
        )
    raise ValueError(f"unknown plan {spec!r}")


def _opt_int(spec: dict[str, object], key: str, default: int | None) -> int | None:
    if key not in spec:
        return default
    value = spec[key]
    return None if value is None else int(value)  # type: ignore[call-overload]


@dataclass
class SandboxConfig:
    accounts: dict[str, str] = field(default_factory=lambda: {DEMO_USERNAME: DEMO_PASSWORD})
    token_ttl: float = 86_400.0
    refresh_ttl: float = 172_800.0
    max_sessions: int = 3
    plan: RatePlan = field(default_factory=RatePlan.off)
    variations: int = 0
    seed: int = 1
    bulk_limit: int = 50
    max_items_per_page: int = 250
    # Event procedure deliveries: attempts after the first, and the first backoff (doubles).
    event_retries: int = 3
    event_backoff: float = 0.5
    event_timeout: float = 5.0
    # Webhook subscriptions: only a 200 within this many seconds is delivered; the 18
    # resend times (1 min … 72 h after the event) are multiplied by the scale (tests: ≪ 1).
    webhook_timeout: float = 2.0
    webhook_time_scale: float = 1.0
    # Check every /rest answer against the official description (needs the dev deps).
    contract_check: bool = False
