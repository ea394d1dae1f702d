"""The configuration file follows the receiver's id rules (issue 9, item 12): integer ids and
counts are integers, decimal ids (referrers, statuses) are numbers, never text."""

from __future__ import annotations

import pytest
import yaml

from schemas.config import ConfigError, load_config, load_connection
from tests.foundation.test_config import demo_doc


def _error_of(doc: dict) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(doc)
    return exc.value.errors


@pytest.mark.parametrize(("section", "key", "value"), [
    ("item_import", "default_category_id", 16.0),
    ("item_import", "default_category_id", "16"),
    ("item_import", "default_category_id", True),
    ("sales_prices", "retail", 1.5),
])
def test_an_integer_id_must_be_an_integer(section, key, value):
    doc = demo_doc()
    doc["connections"][0]["mappings"][section][key] = value
    [error] = _error_of(doc)
    assert error.startswith(f"connections[0].mappings.{section}.{key}:")


def test_counts_and_row_ids_must_be_integers():
    doc = demo_doc()
    conn = doc["connections"][0]
    conn["mappings"]["warehouses"][0]["warehouse_id"] = 1.0
    conn["processes"] = {"stock_delta": {"interval_minutes": 15.0}}
    conn["rules"] = {"stock_buffer": "2"}
    assert _error_of(doc) == [
        "connections[0].mappings.warehouses[0].warehouse_id: not an integer",
        "connections[0].processes.stock_delta.interval_minutes: not an integer",
        "connections[0].rules.stock_buffer: not an integer",
    ]


def test_decimal_ids_must_be_numbers_not_text():
    doc = demo_doc()
    conn = doc["connections"][0]
    conn["mappings"]["markets"][0]["plenty_referrer_id"] = "104.01"
    conn["mappings"]["order_statuses"] = {"handed_over": "5.1"}
    conn["rules"] = {"block_order_referrers": ["104.02"]}
    errors = _error_of(doc)
    assert [e.split(":")[0] for e in errors] == [
        "connections[0].mappings.markets[0].plenty_referrer_id",
        "connections[0].mappings.order_statuses.handed_over",
        "connections[0].rules.block_order_referrers[0]",
    ]
    assert all("JSON number" in e for e in errors)


def test_decimal_ids_as_numbers_load_as_before():
    doc = yaml.safe_load("""
markets: [{plenty_referrer_id: 104.01, spocc_referrer_id: 3}, {plenty_referrer_id: 4,
          spocc_referrer_id: 5}]
order_statuses: {handed_over: 5.1, shipped: 7}
""")
    full = demo_doc()
    full["connections"][0]["mappings"].update(doc)
    full["connections"][0]["rules"] = {"block_order_referrers": [104.02]}
    [conn] = load_config(full)
    assert conn.mappings.markets == {"104.01": 3, "4.00": 5}
    assert conn.status("handed_over") == "5.1" and conn.status("shipped") == "7"
    assert conn.rules.block_order_referrers == ["104.02"]


def test_a_connection_stored_with_text_decimals_still_loads():
    """Documents applied before this rule spelled decimals as text; they stay readable."""
    doc = demo_doc()["connections"][0]
    doc["mappings"]["markets"][0]["plenty_referrer_id"] = "104.01"
    doc["mappings"]["order_statuses"] = {"handed_over": "5.1"}
    doc["rules"] = {"block_order_referrers": ["104.02"]}
    conn = load_connection(doc)
    assert "104.01" in conn.mappings.markets and conn.status("handed_over") == "5.1"
    assert conn.rules.block_order_referrers == ["104.02"]
