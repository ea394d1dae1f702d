"""Operator actions through `spocc`, on a real worker: the last HTTP exchange of a failure,
dead letters by cause, replaying a group, discarding with a reason, configuration history."""

from __future__ import annotations

import uuid

import pytest
import requests
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import select

from cli.main import cli
from store.db import session_scope
from store.models import DeadLetter
from store.operator_models import HttpExchange
from tests.conftest import connection_document
from tests.foundation.test_cli import spocc
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

PERSON = "Erika Canary-Person"
EMAIL = "erika.canary@example.org"
PHONE = "+49 170 5550199"


def _cli(*args: str) -> Result:
    """In-process (the commands without a worker need no process of their own)."""
    return CliRunner().invoke(cli, list(args))


def _letters(url: str, task_id: str) -> list[DeadLetter]:
    with session_scope(url) as s:
        return list(s.execute(select(DeadLetter).where(DeadLetter.task_id == task_id)).scalars())


def _faults(spocc_url: str, *rules: dict) -> None:
    requests.post(f"{spocc_url}/__admin/faults", json={"seed": 1, "rules": list(rules)},
                  timeout=10).raise_for_status()


def test_a_failed_call_keeps_its_last_http_exchange_scrubbed_and_its_group_replays(
    spocc_env, connection, sandboxes, worker_factory
):
    from tests.support.tasks import channel_stores

    key = connection.spocc.stock_api_key.reveal()
    token_canary = "tok-canary-" + uuid.uuid4().hex
    # SPoCC answers 200 with a body that breaks the contract, repeats the API key and
    # carries a person's name, e-mail and phone number.
    _faults(sandboxes.spocc_url, {
        "kind": "corrupt", "path": "/channel-stores",
        "replace": {
            "items.0.number": "not-a-number",
            "items.0.contactPerson": PERSON,
            "items.0.note": f"reach {EMAIL} or {PHONE}; your key {key} is deprecated",
            "items.1.accessToken": token_canary,
        },
    })
    worker_factory(queues="default", concurrency=1, name="xchg")
    sent = [channel_stores.apply_async(args=[connection.id]) for _ in range(2)]
    url = spocc_env.database_url
    wait_until(lambda: all(_letters(url, r.id) for r in sent), 90, "two dead letters")
    letter = _letters(url, sent[0].id)[0]
    assert letter.last_error.startswith("ContractError")

    shown = spocc(spocc_env.env, "dlq", "show", str(letter.id))
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "last HTTP exchange" in out and "→ 200" in out
    assert "GET /global-stock/v1/channel-stores" in out
    assert "not-a-number" in out and "[personal data]" in out and "********" in out
    with session_scope(url) as s:
        stored = [x.body + (x.error or "") for x in s.execute(select(HttpExchange)).scalars()]
        letters = [f"{d.args}{d.kwargs}{d.last_error}"
                   for d in s.execute(select(DeadLetter)).scalars()]
    assert stored, "the exchange was not stored"
    for text in (out, shown.stderr, *stored, *letters):
        for canary in (key, token_canary, PERSON, EMAIL, PHONE, "5550199"):
            assert canary not in text

    group = "spocc.test.channel_stores:ContractError"
    groups = spocc(spocc_env.env, "dlq", "groups", "--connection", connection.id)
    assert group in groups.stdout and " 2 " in groups.stdout, groups.stdout

    _faults(sandboxes.spocc_url)  # SPoCC is well again
    replayed = spocc(spocc_env.env, "dlq", "replay", "--group", group, "--connection",
                     connection.id, "--actor", "dave", "--reason", "SPoCC fixed its answer")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.count("replayed as task") == 2
    wait_until(lambda: all(_letters(url, r.id)[0].status == "resolved" for r in sent), 60,
               "both letters resolved by their replays")
    trail = spocc(spocc_env.env, "audit", "--actor", "dave")
    assert trail.stdout.count("dead_letter.replay") == 2
    assert "SPoCC fixed its answer" in trail.stdout


def test_dlq_discard_and_resolve_from_the_cli_need_a_reason(spocc_env, monkeypatch):
    from store import dead_letters

    with session_scope(spocc_env.database_url) as s:
        ids = [dead_letters.add(
            s, task_name="spocc.test.cli", task_id=str(uuid.uuid4()), queue="default",
            connection_id=None, args=[], kwargs={}, last_error="TypeError: x", attempts=1,
        ).id for _ in range(2)]
    refused = _cli("dlq", "discard", str(ids[0]))
    assert refused.exit_code == 2 and "--reason" in refused.stderr
    monkeypatch.setenv("USER", "erin")
    done = _cli("dlq", "discard", str(ids[0]), "--reason", "not wanted")
    assert done.exit_code == 0, done.stderr
    done = _cli("dlq", "resolve", str(ids[1]), "--reason", "fixed by hand")
    assert done.exit_code == 0, done.stderr
    again = _cli("dlq", "resolve", str(ids[1]), "--reason", "twice")
    assert again.exit_code == 1 and "is resolved" in again.stderr
    shown = _cli("dlq", "show", str(ids[1]))
    assert "erin dead_letter.resolve: fixed by hand" in shown.stdout
    listed = _cli("dlq", "list", "--status", "discarded", "--connection", "-",
                   "--task", "spocc.test.cli")
    assert f"│ {ids[0]} " in listed.stdout and f"│ {ids[1]} " not in listed.stdout


def test_config_history_and_diff_from_the_cli(spocc_env, tmp_path, monkeypatch):
    conn_id = f"hist-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "c.yaml"
    doc = connection_document(conn_id, "http://127.0.0.1:1", "http://127.0.0.1:2")
    path.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("USER", "frank")
    assert _cli("config", "apply", str(path)).exit_code == 0
    doc["connections"][0]["spocc"]["transaction_api_key"] = "new-secret-" + uuid.uuid4().hex
    doc["connections"][0]["name"] = "renamed"
    path.write_text(yaml.safe_dump(doc))
    applied = _cli("config", "apply", str(path), "--actor", "grace")
    assert applied.exit_code == 0, applied.stderr
    history = _cli("config", "history", "--connection", conn_id)
    assert "grace" in history.stdout and "frank" in history.stdout
    assert "spocc.transaction_api_key" in history.stdout
    diff = _cli("config", "diff", "2", "--connection", conn_id)
    assert diff.exit_code == 0, diff.stderr
    assert "+name: renamed" in diff.stdout and "******** (changed)" in diff.stdout
    assert doc["connections"][0]["spocc"]["transaction_api_key"] not in diff.stdout
    missing = _cli("config", "diff", "7", "--connection", conn_id)
    assert missing.exit_code == 1 and "no recorded revision 7" in missing.stderr


def test_a_whole_group_is_discarded_from_the_cli_with_a_reason(spocc_env, monkeypatch):
    from store import dead_letters

    task = f"spocc.test.group{uuid.uuid4().hex[:6]}"
    with session_scope(spocc_env.database_url) as s:
        ids = [dead_letters.add(
            s, task_name=task, task_id=str(uuid.uuid4()), queue="default",
            connection_id=None, args=[], kwargs={}, last_error=error, attempts=1,
        ).id for error in ("TypeError: a", "TypeError: b", "KeyError: c")]
    monkeypatch.setenv("USER", "heidi")
    both = _cli("dlq", "discard", str(ids[0]), "--group", f"{task}:TypeError", "--reason", "x")
    assert both.exit_code == 2 and "--group" in both.stderr
    done = _cli("dlq", "discard", "--group", f"{task}:TypeError", "--connection", "-",
                "--reason", "the sweeper's bug is fixed; the next sweep covers it")
    assert done.exit_code == 0, done.stderr
    with session_scope(spocc_env.database_url) as s:
        assert [s.get(DeadLetter, i).status for i in ids] == ["discarded", "discarded", "open"]
    trail = _cli("audit", "--actor", "heidi")
    assert trail.stdout.count("dead_letter.discard") == 2
