"""Property tests against the served `/openapi.json`: schemathesis with all its checks finds
no mismatch between the document and the receiver, and whatever hypothesis sends,
authenticated or not, the receiver never answers 5xx."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.receiver.conftest import TOKEN
from tests.support.processes import ROOT


@pytest.fixture(scope="module")
def fuzz_connection(spocc_env):
    import uuid

    from store import config_store
    from store.db import session_scope
    from tests.conftest import connection_document
    from workers import runtime

    conn_id = f"f-{uuid.uuid4().hex[:8]}"
    doc = connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9",
                              webhooks={"token": TOKEN})
    with session_scope(spocc_env.database_url) as session:
        config_store.apply(session, runtime.secret_box(), doc)
    return conn_id


def test_schemathesis_all_checks_find_no_mismatch(receiver, fuzz_connection):
    """Every operation of the served document through every phase and every check of
    schemathesis: the document says what the receiver does (issue 9 item 13)."""
    env = dict(os.environ, SCHEMATHESIS_HOOKS="tests.receiver.schemathesis_hooks",
               SPOCC_FUZZ_CONNECTION=fuzz_connection)
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{receiver.url}/openapi.json",
         "--checks", "all", "-H", f"Authorization: Bearer {TOKEN}", "--max-examples", "30",
         "--generation-deterministic", "--phases", "examples,coverage,fuzzing,stateful"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert "Operations:       " in run.stdout, run.stdout + run.stderr
    assert "/hooks/{connection_id}" in requests.get(f"{receiver.url}/openapi.json",
                                                    timeout=10).json()["paths"]
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"orderId": json_values}, optional={"statusId": json_values,
                                                              "typeId": json_values})
    .map(lambda v: json.dumps(v).encode()),
)


@given(body=bodies,
       content_type=st.sampled_from(["application/json", "text/plain", "", "application/x+json"]),
       order_param=st.one_of(st.none(), st.text(max_size=12), st.integers()),
       event=st.sampled_from(["order-registered", "order-paid", "return-registered", "x"]),
       auth=st.sampled_from(["bearer", "query", "none", "bad"]))
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_request_is_answered_without_a_5xx(receiver, fuzz_connection, body, content_type,
                                               order_param, event, auth):
    headers = {"Content-Type": content_type} if content_type else {}
    params: dict[str, object] = {}
    if order_param is not None:
        params["orderId"] = order_param
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {TOKEN}"
    elif auth == "query":
        params["token"] = TOKEN
    elif auth == "bad":
        headers["Authorization"] = "Bearer"
    answer = requests.post(f"{receiver.url}/hooks/{fuzz_connection}/{event}", data=body,
                           headers=headers, params=params, timeout=10)
    assert answer.status_code in {200, 400, 401, 404, 409, 413, 415, 422}, answer.text
