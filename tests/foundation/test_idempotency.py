from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from store import idempotency
from store.db import session_scope
from store.idempotency import Claim
from store.models import utcnow


def _claim(url: str, key: str, body: str = "body") -> idempotency.ClaimResult:
    with session_scope(url) as s:
        return idempotency.claim(s, "c1", "webhook", key, idempotency.request_hash(body))


def test_first_claim_is_new_then_in_progress_then_duplicate_with_first_answer(any_db_url: str):
    key = uuid.uuid4().hex
    first = _claim(any_db_url, key)
    assert first.claim is Claim.NEW
    assert _claim(any_db_url, key).claim is Claim.IN_PROGRESS
    with session_scope(any_db_url) as s:
        idempotency.complete(s, first.key_id, {"event_id": 42})
    again = _claim(any_db_url, key)
    assert again.claim is Claim.DUPLICATE
    assert again.response == {"event_id": 42}


def test_same_key_with_a_different_body_is_a_conflict(any_db_url: str):
    key = uuid.uuid4().hex
    assert _claim(any_db_url, key, "a").claim is Claim.NEW
    assert _claim(any_db_url, key, "b").claim is Claim.CONFLICT


def test_keys_are_scoped_by_connection(any_db_url: str):
    key = uuid.uuid4().hex
    with session_scope(any_db_url) as s:
        assert idempotency.claim(s, "c1", "x", key, "h").claim is Claim.NEW
        assert idempotency.claim(s, "c2", "x", key, "h").claim is Claim.NEW


def test_released_claim_can_be_claimed_again(any_db_url: str):
    key = uuid.uuid4().hex
    first = _claim(any_db_url, key)
    with session_scope(any_db_url) as s:
        idempotency.release(s, first.key_id)
    assert _claim(any_db_url, key).claim is Claim.NEW


def test_reaper_removes_only_expired_keys(any_db_url: str):
    old, fresh = uuid.uuid4().hex, uuid.uuid4().hex
    with session_scope(any_db_url) as s:
        idempotency.claim(
            s,
            "c1",
            "webhook",
            old,
            idempotency.request_hash("body"),
            now=utcnow() - timedelta(hours=100),
        )
        idempotency.claim(s, "c1", "webhook", fresh, idempotency.request_hash("body"))
    with session_scope(any_db_url) as s:
        assert idempotency.reap(s) >= 1
    assert _claim(any_db_url, old).claim is Claim.NEW
    assert _claim(any_db_url, fresh).claim is Claim.IN_PROGRESS


def test_keys_outlive_the_72_hour_retry_horizon():
    assert idempotency.DEFAULT_TTL > timedelta(hours=72)


def test_concurrent_claims_of_one_key_on_postgres_yield_exactly_one_new_threads(spocc_env):
    url = spocc_env.database_url
    for _ in range(5):
        key = uuid.uuid4().hex
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda k: _claim(url, k).claim, [key] * 32))
        assert results.count(Claim.NEW) == 1
        assert set(results) <= {Claim.NEW, Claim.IN_PROGRESS}


def _claim_many(args: tuple[str, list[str]]) -> list[str]:
    url, keys = args
    from store.db import get_engine

    get_engine.cache_clear()  # a fresh pool in the child process
    return [_claim(url, k).claim.value for k in keys]


def test_concurrent_claims_of_one_key_on_postgres_yield_exactly_one_new_processes(spocc_env):
    url = spocc_env.database_url
    keys = [uuid.uuid4().hex for _ in range(20)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        per_process = pool.map(_claim_many, [(url, keys)] * 4)
    for i in range(len(keys)):
        outcomes = [results[i] for results in per_process]
        assert outcomes.count("new") == 1, outcomes
