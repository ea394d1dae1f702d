"""The store side of the ops console: audit, configuration history, dead-letter actions.

On PostgreSQL and on the embedded SQLite (`any_db_url`).
"""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from schemas.config import MASK
from store import audit, config_store, dead_letters
from store.db import session_scope
from store.models import DeadLetter, utcnow
from store.secrets import SecretBox
from tests.conftest import connection_document
from workers import dlq_actions
from workers.dlq_actions import ActionError, LetterFilter


@pytest.fixture
def box(any_db_url: str) -> SecretBox:
    # The session's key: these connections stay in the shared database, and every later
    # `spocc status` or worker must be able to open their secrets.
    from workers import runtime

    return runtime.secret_box()


def test_audit_records_who_did_what_newest_first(any_db_url):
    subject = f"dead_letter:{uuid.uuid4().hex[:6]}"
    with session_scope(any_db_url) as s:
        audit.record(s, "alice", "dead_letter.replay", subject)
        audit.record(s, "bob", "dead_letter.discard", subject, "  duplicate of 7  ",
                     connection_id="shop-a")
    with session_scope(any_db_url) as s:
        rows = audit.recent(s, subject=subject)
        assert [(r.actor, r.action, r.reason) for r in rows] == [
            ("bob", "dead_letter.discard", "duplicate of 7"),
            ("alice", "dead_letter.replay", None),
        ]
        assert rows[0].connection_id == "shop-a"
        assert [r.actor for r in audit.recent(s, subject=subject, actor="alice")] == ["alice"]
        assert audit.recent(s, subject=subject, since=utcnow() + timedelta(minutes=1)) == []


def test_audit_refuses_an_entry_without_actor(any_db_url):
    with session_scope(any_db_url) as s, pytest.raises(audit.AuditError, match="actor"):
        audit.record(s, "  ", "dead_letter.replay", "dead_letter:1")


def _doc(conn_id: str, **changes: object) -> dict:
    doc = connection_document(conn_id, "http://127.0.0.1:1", "http://127.0.0.1:2")
    conn = doc["connections"][0]
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = conn
        for part in parents:
            node = node[part]
        node[leaf] = value
    return doc


def test_config_history_keeps_each_revision_with_its_actor_and_masks_secrets(any_db_url, box):
    conn_id = f"h-{uuid.uuid4().hex[:8]}"
    canary = "pw-canary-" + uuid.uuid4().hex
    first = _doc(conn_id)
    with session_scope(any_db_url) as s:
        config_store.apply(s, box, first, actor="alice")
    second = _doc(conn_id, plentyone__password=canary, name="Shop A renamed")
    with session_scope(any_db_url) as s:
        config_store.apply(s, box, second, actor="bob")
    with session_scope(any_db_url) as s:  # the same file again: nothing changed
        config_store.apply(s, box, copy.deepcopy(second), actor="carol")
    with session_scope(any_db_url) as s:
        revisions = config_store.history(s, conn_id)
        assert [(r.revision, r.actor) for r in revisions] == [(2, "bob"), (1, "alice")]
        assert revisions[0].secrets_changed == ["plentyone.password"]
        diff = "\n".join(config_store.revision_diff(s, conn_id, 2))
        first_diff = "\n".join(config_store.revision_diff(s, conn_id, 1))
        applied = [r.actor for r in audit.recent(s, subject=f"connection:{conn_id}")]
    assert "-name: " in diff and "+name: Shop A renamed" in diff
    assert f"+  password: '{MASK} (changed)'" in diff and f"-  password: '{MASK}'" in diff
    assert "revision 2 (bob," in diff and "revision 1 (alice," in diff
    assert "nothing before" in first_diff
    assert applied == ["bob", "alice"]
    for text in (diff, first_diff):
        assert canary not in text
        assert "demo-password" not in text and "demo-transaction-service-key" not in text


def test_config_diff_of_an_unknown_revision_says_so(any_db_url, box):
    conn_id = f"h-{uuid.uuid4().hex[:8]}"
    with session_scope(any_db_url) as s:
        config_store.apply(s, box, _doc(conn_id), actor="alice")
    with session_scope(any_db_url) as s, pytest.raises(config_store.UnknownRevision):
        config_store.revision_diff(s, conn_id, 9)


def _letter(s, task: str, error: str, connection_id: str | None, age: timedelta) -> int:
    row = dead_letters.add(
        s, task_name=task, task_id=str(uuid.uuid4()), queue="default",
        connection_id=connection_id, args=[], kwargs={}, last_error=error, attempts=1,
    )
    s.execute(update(DeadLetter).where(DeadLetter.id == row.id)
              .values(created_at=utcnow() - age))
    return row.id


def test_dead_letters_are_grouped_by_cause_and_filtered(any_db_url):
    tag = uuid.uuid4().hex[:6]
    sweep, register = f"spocc.test.sweep.{tag}", f"spocc.test.register.{tag}"
    conn = f"c-{tag}"
    with session_scope(any_db_url) as s:
        old = [_letter(s, sweep, "TypeError: can't subtract offset-naive\n  tb", None,
                       timedelta(hours=3)) for _ in range(3)]
        new = _letter(s, sweep, "TypeError: can't subtract", None, timedelta(minutes=1))
        _letter(s, register, "ServerError: POST /orders: 503", conn, timedelta(minutes=5))
        _letter(s, register, "Unprocessable: POST /orders: 422", conn, timedelta(minutes=5))
    with session_scope(any_db_url) as s:
        found = {g.key: g for g in dlq_actions.groups(s, LetterFilter())
                 if g.task in (sweep, register)}
        assert {k: g.count for k, g in found.items()} == {
            f"{sweep}:TypeError": 4, f"{register}:ServerError": 1,
            f"{register}:Unprocessable": 1}
        assert found[f"{sweep}:TypeError"].connections == {dlq_actions.NO_CONNECTION}
        assert sorted(found[f"{sweep}:TypeError"].ids) == sorted([*old, new])
        no_conn = dlq_actions.letters(s, LetterFilter(connection_id="-", task=sweep))
        assert len(no_conn) == 4
        assert len(dlq_actions.letters(s, LetterFilter(connection_id=conn))) == 2
        older = dlq_actions.letters(s, LetterFilter(task=sweep, older_than=timedelta(hours=1)))
        assert sorted(r.id for r in older) == sorted(old)
        newer = dlq_actions.letters(s, LetterFilter(task=sweep, newer_than=timedelta(hours=1)))
        assert [r.id for r in newer] == [new]


def test_discard_and_resolve_need_a_reason_and_are_audited(any_db_url):
    tag = uuid.uuid4().hex[:6]
    with session_scope(any_db_url) as s:
        a = _letter(s, f"spocc.test.{tag}", "ServerError: 503", "shop", timedelta(0))
        b = _letter(s, f"spocc.test.{tag}", "ServerError: 503", "shop", timedelta(0))
    with session_scope(any_db_url) as s, pytest.raises(ActionError, match="reason"):
        dlq_actions.discard(s, a, "alice", " ")
    with session_scope(any_db_url) as s:
        dlq_actions.discard(s, a, "alice", "order cancelled by the shop")
        dlq_actions.resolve(s, b, "bob", "stock corrected by hand")
    with session_scope(any_db_url) as s:
        assert s.get(DeadLetter, a).status == "discarded"
        assert s.get(DeadLetter, b).status == "resolved"
        assert s.get(DeadLetter, b).resolved_at is not None
        assert s.get(DeadLetter, b).resolution == "resolved by bob: stock corrected by hand"
        d = dlq_actions.detail(s, b)
        assert [(e.actor, e.action, e.reason) for e in d.audit] == [
            ("bob", "dead_letter.resolve", "stock corrected by hand")]
        with pytest.raises(ActionError, match="is discarded"):
            dlq_actions.resolve(s, a, "bob", "again")
        with pytest.raises(ActionError, match="does not exist"):
            dlq_actions.discard(s, 10**9, "bob", "gone")


def test_closing_several_letters_is_all_or_nothing(any_db_url):
    tag = uuid.uuid4().hex[:6]
    with session_scope(any_db_url) as s:
        a = _letter(s, f"spocc.test.{tag}", "ServerError: 503", None, timedelta(0))
        b = _letter(s, f"spocc.test.{tag}", "ServerError: 503", None, timedelta(0))
        dlq_actions.discard(s, b, "alice", "not wanted")
    with pytest.raises(ActionError), session_scope(any_db_url) as s:
        dlq_actions.close_many(s, [a, b], "bob", "tidy up", "resolved")
    with session_scope(any_db_url) as s:
        assert s.get(DeadLetter, a).status == "open"
        assert audit.recent(s, subject=dlq_actions.subject(a)) == []


def test_a_letter_shows_its_subjects_attempts_whichever_message_carried_them(any_db_url):
    from store.models import Attempt

    subject = f"delivery:{uuid.uuid4().int % 10**9}"
    with session_scope(any_db_url) as s:
        for n, task_id in enumerate(("sweeper-resend-1", "sweeper-resend-2", "last"), 1):
            s.add(Attempt(task_id=f"{task_id}-{subject}", task_name="spocc.orders.paid",
                          number=n, subject=subject, outcome="failed", error="ServerError"))
        s.add(Attempt(task_id="unrelated", task_name="spocc.orders.paid", number=1,
                      subject="delivery:other", outcome="failed"))
        letter = dead_letters.add(
            s, task_name="spocc.orders.paid", task_id=f"last-{subject}", queue="orders",
            connection_id="shop", args=[], kwargs={}, last_error="ServerError: 503",
            attempts=3, subject=subject,
        )
    with session_scope(any_db_url) as s:
        d = dlq_actions.detail(s, letter.id)
    assert [a.task_id.split("-" + subject)[0] for a in d.attempts] == [
        "sweeper-resend-1", "sweeper-resend-2", "last"]
