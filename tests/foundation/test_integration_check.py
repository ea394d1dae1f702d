"""`spocc check` against the sandboxes: credentials and every mapped id, row at fault named."""

from __future__ import annotations

import subprocess
import sys

import pytest

from store import config_store
from store.db import session_scope
from tests.conftest import connection_document
from tests.support.processes import ROOT

pytestmark = pytest.mark.slow


def spocc_check(env: dict[str, str], conn_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", "check", "--connection", conn_id],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _apply(spocc_env, doc) -> None:
    from workers import runtime

    with session_scope(spocc_env.database_url) as s:
        config_store.apply(s, runtime.secret_box(), doc)


def test_check_accepts_a_connection_whose_mappings_all_exist(spocc_env, connection):
    result = spocc_check(spocc_env.env, connection.id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every mapped id exists" in result.stdout


def test_check_names_the_mapping_row_at_fault(spocc_env, sandboxes):
    doc = connection_document("t-badmap", sandboxes.plenty_url, sandboxes.spocc_url)
    mappings = doc["connections"][0]["mappings"]
    mappings["warehouses"][1]["warehouse_id"] = 99
    mappings["categories"][0]["product_group_id"] = 777
    mappings["order_statuses"] = {"handed_over": 5.7}
    _apply(spocc_env, doc)
    result = spocc_check(spocc_env.env, "t-badmap")
    out = " ".join(result.stdout.split())
    assert result.returncode == 1
    assert "mappings.warehouses[1].warehouse_id" in out
    assert "warehouse 99 does not exist in PlentyONE" in out
    assert "mappings.categories[0].product_group_id" in out
    assert "product group 777 does not exist in SPoCC" in out
    assert "mappings.order_statuses.handed_over" in out


def test_check_reports_rejected_credentials_without_printing_them(spocc_env, sandboxes):
    doc = connection_document("t-badkey", sandboxes.plenty_url, sandboxes.spocc_url)
    doc["connections"][0]["spocc"]["stock_api_key"] = "wrong-key-canary-123"
    doc["connections"][0]["plentyone"]["password"] = "wrong-password-canary"
    _apply(spocc_env, doc)
    result = spocc_check(spocc_env.env, "t-badkey")
    out = " ".join(result.stdout.split())
    assert result.returncode == 1
    assert "SPoCC API keys" in out and "PlentyONE credentials" in out
    assert "canary" not in result.stdout + result.stderr


def test_check_warns_of_a_channel_store_with_no_warehouse(spocc_env, sandboxes):
    doc = connection_document("t-unmapped", sandboxes.plenty_url, sandboxes.spocc_url)
    doc["connections"][0]["mappings"]["warehouses"].pop()  # channel store 3
    _apply(spocc_env, doc)
    result = spocc_check(spocc_env.env, "t-unmapped")
    assert result.returncode == 0, result.stdout
    out = " ".join(result.stdout.split())
    assert "warn connection t-unmapped: mappings.warehouses: SPoCC channel store(s) 3 have no " \
           "warehouse mapped" in out
    assert "orders from warehouse(s) 3 will be held" in out
    # The demo maps referrers 1 and 104.01; the sandbox also knows 0, 4 and 104.02.
    assert "orders from referrer(s) 0, 4, 104.02 will be held" in out
