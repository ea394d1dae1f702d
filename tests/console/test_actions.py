"""Operators act on dead letters from the console; viewers and forged requests cannot."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.console.conftest import (
    OPERATOR,
    OPERATOR_PASSWORD,
    VIEWER,
    VIEWER_PASSWORD,
)
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


def _letter_of(token: str) -> Any:
    from sqlalchemy import select

    from store.models import DeadLetter
    from workers import runtime

    with runtime.db() as session:
        for row in session.execute(
            select(DeadLetter).where(DeadLetter.task_name == "spocc.test.flaky")
        ).scalars():
            if row.kwargs.get("token") == token:
                return row
    return None


def _dead_letter(fail_times: int) -> int:
    """A task that fails through its retries on a real worker and ends as a dead letter."""
    from tests.support.tasks import flaky

    token = f"dl-{uuid.uuid4().hex[:8]}"
    flaky.apply_async(kwargs={"token": token, "fail_times": fail_times})
    wait_until(lambda: _letter_of(token) is not None, 90, f"dead letter of {token}")
    return int(_letter_of(token).id)


def _status(dead_letter_id: int) -> str:
    from store.models import DeadLetter
    from workers import runtime

    with runtime.db() as session:
        row = session.get(DeadLetter, dead_letter_id)
        assert row is not None
        return row.status


def test_operator_replays_one_letter_and_discards_another(visitor: Any, worker_factory: Any
                                                          ) -> None:
    worker_factory(queues="default", concurrency=1)
    # fails its 3 runs (1 + 2 retries), succeeds on the 4th: the replay
    to_replay = _dead_letter(fail_times=3)
    to_discard = _dead_letter(fail_times=100)

    v = visitor()
    v.login(OPERATOR, OPERATOR_PASSWORD)
    v.open("/", "overview with a worker")
    assert "worker-0@" in v.page.locator("#queue-default").inner_text()
    assert "no consumer" in v.page.locator("#queue-orders").inner_text()
    v.open("/dead-letters?task=spocc.test.flaky", "inbox of flaky")
    group = v.page.locator("tr.group", has_text="spocc.test.flaky").inner_text()
    assert "ServerError" in group

    v.open(f"/dead-letters/{to_replay}", "letter to replay")
    assert "sandbox said 503" in v.page.locator("#last-error").inner_text()
    assert v.page.locator("#attempts tbody tr").count() == 3
    v.page.click("button[value=replay]")
    v.check("replayed")
    assert "replayed as task" in v.page.locator(".flash").inner_text()
    wait_until(lambda: _status(to_replay) == "resolved", 90, "the replay to succeed")
    v.open(f"/dead-letters/{to_replay}", "resolved by its replay")
    assert v.page.locator("#letter-status").inner_text() == "resolved"
    assert "success" in v.page.locator("#attempts").inner_text()

    v.open(f"/dead-letters/{to_discard}", "letter to discard")
    v.page.fill("input[aria-label='reason to discard']", "test data, not wanted")
    v.page.click("button[value=discard]")
    v.check("discarded")
    assert _status(to_discard) == "discarded"
    assert v.page.locator("#letter-status").inner_text() == "discarded"

    v.open("/audit", "audit")
    audit = v.page.locator("table.audit").inner_text()
    assert f"console:{OPERATOR}\tdead_letter.replay\tdead_letter:{to_replay}" in audit
    assert f"console:{OPERATOR}\tdead_letter.discard\tdead_letter:{to_discard}" in audit
    assert "test data, not wanted" in audit


def test_viewer_cannot_act_and_forged_actions_are_refused(visitor: Any) -> None:
    from store import dead_letters
    from workers import runtime

    with runtime.db() as session:
        letter = dead_letters.add(
            session, task_name="spocc.test.flaky", task_id=str(uuid.uuid4()), queue="default",
            connection_id=None, args=[], kwargs={"token": "x", "fail_times": 1},
            last_error="ServerError: sandbox said 503", attempts=3,
        ).id

    viewer = visitor()
    viewer.login(VIEWER, VIEWER_PASSWORD)
    viewer.open(f"/dead-letters/{letter}", "viewer sees the letter")
    assert viewer.page.locator("button[value=replay], button[value=discard]").count() == 0
    assert "read-only user" in viewer.page.locator(".readonly-note").inner_text()
    viewer.open("/dead-letters", "viewer sees the inbox")
    assert viewer.page.locator("button[value=replay-group]").count() == 0
    token = viewer.page.locator("input[name=csrf_token]").first.get_attribute("value")
    for path in (f"/dead-letters/{letter}/replay", f"/dead-letters/{letter}/discard"):
        answer = viewer.page.request.post(
            viewer.base + path, form={"csrf_token": token, "reason": "viewer tries"},
            max_redirects=0)
        assert answer.status == 403, path
    assert _status(letter) == "open"

    operator = visitor()
    operator.login(OPERATOR, OPERATOR_PASSWORD)
    for form in ({"reason": "no token"}, {"reason": "bad token", "csrf_token": "forged"}):
        answer = operator.page.request.post(
            f"{operator.base}/dead-letters/{letter}/discard", form=form, max_redirects=0)
        assert answer.status == 400
        assert "CSRF token" in answer.text()
    assert _status(letter) == "open"
