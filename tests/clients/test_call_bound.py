"""One API call never outlives half its task's soft time limit (issue 9, item 5): every
retry, rate-limit wait, timeout and backoff of a call is cut to one deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from clients.errors import RetryableError
from clients.http import RetryPolicy, Timeouts
from clients.plentyone import PlentyOneClient
from sandboxes.common.server import BackgroundServer
from tests.clients.conftest import Admin
from workers.settings import load_settings

DEFAULTS = Timeouts()


@pytest.mark.parametrize("soft_limit", ["300", "60", "30"])
def test_a_call_s_worst_case_is_at_most_half_the_soft_time_limit(
    soft_limit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPOCC_TASK_SOFT_TIME_LIMIT", soft_limit)
    settings = load_settings()
    # what the tasks build (tasks/catalogue/context.py, tasks/orders/engine.py)
    policy = RetryPolicy.within(settings.call_budget, DEFAULTS)
    worst = policy.worst_case(DEFAULTS)
    assert worst <= 0.5 * settings.task_soft_time_limit
    # and the bound is the call's: four attempts of a 120 s acquire and a 30 s read do not
    # fit in it, so the deadline is what ends a call, not the number of attempts
    assert policy.attempts * (120 + DEFAULTS.read) > worst


def test_a_call_to_a_hanging_api_ends_at_its_deadline(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox(variations=5)
    timeouts = Timeouts(connect=1.0, read=2.0)
    client = plenty_client(
        server.url, timeouts=timeouts, retry=RetryPolicy.within(6.0, timeouts, backoff=0.2)
    )
    client.token.get()
    Admin(server.url).faults({"kind": "hang", "rate": 1.0, "delay": 30, "methods": ["GET"]})
    started = time.monotonic()
    with pytest.raises(RetryableError):
        client.warehouses()
    assert time.monotonic() - started <= 6.0 + 0.5


def test_a_call_waiting_for_a_spent_rate_budget_ends_at_its_deadline(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox(variations=5)
    timeouts = Timeouts(connect=1.0, read=2.0)
    client = plenty_client(
        server.url,
        timeouts=timeouts,
        retry=RetryPolicy.within(6.0, timeouts),
        acquire_timeout=120.0,
    )
    client.token.get()
    client.read_limiter.block_for(120)  # a Retry-After of two minutes, for every worker
    started = time.monotonic()
    with pytest.raises(RetryableError):
        client.warehouses()
    assert time.monotonic() - started <= 6.0 + 0.5
