"""A failed HTTP call seen from the console: its last exchange, scrubbed, on the letter's
page; the whole group replayed from the inbox once SPoCC answers again."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.console.conftest import OPERATOR, OPERATOR_PASSWORD
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

PERSON = "Erika Console-Canary"
EMAIL = "erika.console@example.org"


def _faults(spocc_url: str, *rules: dict[str, Any]) -> None:
    requests.post(f"{spocc_url}/__admin/faults", json={"seed": 1, "rules": list(rules)},
                  timeout=10).raise_for_status()


def _letters(task_ids: list[str]) -> list[Any]:
    from sqlalchemy import select

    from store.models import DeadLetter
    from workers import runtime

    with runtime.db() as session:
        return list(session.execute(
            select(DeadLetter).where(DeadLetter.task_id.in_(task_ids))).scalars())


def test_the_last_exchange_is_shown_scrubbed_and_the_group_replays(
    visitor: Any, connection: Any, sandboxes: Any, worker_factory: Any
) -> None:
    from tests.support.tasks import channel_stores

    key = connection.spocc.stock_api_key.reveal()
    # SPoCC answers with a body that breaks the contract, echoes the key and names a person.
    _faults(sandboxes.spocc_url, {
        "kind": "corrupt", "path": "/channel-stores",
        "replace": {
            "items.0.number": "not-a-number",
            "items.0.contactPerson": PERSON,
            "items.0.note": f"write to {EMAIL}; key {key} is deprecated",
        },
    })
    worker_factory(queues="default", concurrency=1, name="xchg")
    sent = [channel_stores.apply_async(args=[connection.id]).id for _ in range(2)]
    wait_until(lambda: len(_letters(sent)) == 2, 90, "two dead letters")
    letter = min(r.id for r in _letters(sent))

    v = visitor()
    v.login(OPERATOR, OPERATOR_PASSWORD)
    html = v.open(f"/dead-letters/{letter}", "letter with its exchange")
    exchange = v.page.locator("#exchange").inner_text()
    assert "GET /global-stock/v1/channel-stores" in exchange
    assert "not-a-number" in exchange and "[personal data]" in exchange
    for leak in (key, PERSON, EMAIL):
        assert leak not in html

    _faults(sandboxes.spocc_url)  # SPoCC is well again
    v.open(f"/dead-letters?connection={connection.id}", "the group to replay")
    group = v.page.locator("tr.group", has_text="spocc.test.channel_stores")
    assert "ContractError" in group.inner_text()
    group.locator("button[value=replay-group]").click()
    v.check("group replayed")
    assert "2 dead letter(s) of spocc.test.channel_stores:ContractError replayed" in (
        v.page.locator(".flash").inner_text())
    wait_until(lambda: all(r.status == "resolved" for r in _letters(sent)), 90,
               "both letters resolved by their replays")
    v.open(f"/dead-letters?connection={connection.id}&status=resolved", "resolved group")
    assert v.page.locator("tr.group", has_text="spocc.test.channel_stores").count() == 1
