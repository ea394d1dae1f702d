"""The business rules of order events, as plain functions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from schemas.config import load_config
from schemas.plentyone import OrderSchema
from tasks.orders import rules

DEMO = Path(__file__).resolve().parents[2] / "cli" / "demo_connection.yaml"


@pytest.fixture
def conn():
    return load_config(yaml.safe_load(DEMO.read_text()))[0]


def order(**changes):
    base = {
        "id": 1000, "typeId": 1, "statusId": 5, "referrerId": 104.01,
        "createdAt": "2026-11-23T18:59:00+00:00",
        "orderItems": [
            {"id": 1, "typeId": 1, "itemVariationId": 7, "quantity": 2.0, "warehouseId": 2,
             "amounts": [{"priceGross": 59.95}],
             "variationBarcodes": [{"barcodeId": 2, "code": "10000000040"},
                                   {"barcodeId": 1, "code": "4000000000000"}]},
            {"id": 2, "typeId": 6, "itemVariationId": 0, "quantity": 1.0,
             "amounts": [{"priceGross": 4.95}]},
        ],
        "addresses": [{"name2": "Ada", "name3": "Lovelace", "name1": "", "address1": "Weg",
                       "address2": "1", "postalCode": "10115", "town": "Berlin",
                       "countryId": 1, "options": [{"typeId": 5, "value": "a@b.c"}],
                       "pivot": {"typeId": 1}}],
        "amounts": [{"invoiceTotal": 124.85, "currency": "EUR"}],
    }
    base.update(changes)
    return OrderSchema().load(base)


def test_registration_maps_referrer_warehouse_store_and_sends_only_variation_lines(conn):
    body = rules.registration(order(), conn)
    assert body["referrerId"] == 1 and body["channelStore"] == 2
    assert body["lines"] == [{"spoccId": "10000000040", "quantity": 2, "price": "59.95"}]
    assert body["billingAddress"]["country"] == "DE"
    assert body["billingAddress"]["email"] == "a@b.c"
    assert body["shippingAddress"] is None


def test_unmapped_referrer_or_warehouse_holds_with_the_cause(conn):
    with pytest.raises(rules.Hold, match=r"referrer 104\.02"):
        rules.registration(order(referrerId=104.02), conn)
    items = order()["orderItems"]
    items[0]["warehouseId"] = 9
    with pytest.raises(rules.Hold, match="warehouse 9"):
        rules.registration({**order(), "orderItems": items}, conn)


def test_a_line_without_spocc_id_holds_the_order(conn):
    items = order()["orderItems"]
    items[0]["variationBarcodes"] = []
    with pytest.raises(rules.Hold, match="no SPoCC ID"):
        rules.registration({**order(), "orderItems": items}, conn)


def test_block_rule_names_the_referrer():
    from schemas.config import Rules

    assert rules.blocked_by(order(), Rules(block_order_referrers=["104.01"]))
    assert rules.blocked_by(order(), Rules(block_order_referrers=["4"])) is None


def test_acceptance_needs_stock_and_price_at_least_threshold_times_retail():
    stock = {"10000000040": {"stock": [{"channelStore": 1, "available": 1}],
                             "prices": {"retail": "100.00"}}}
    ok = [{"spoccId": "10000000040", "quantity": 1, "price": "97.00"}]
    assert rules.acceptance_failures(ok, stock, 1, 0.97) == []
    cheap = [{"spoccId": "10000000040", "quantity": 1, "price": "96.99"}]
    assert "below" in rules.acceptance_failures(cheap, stock, 1, 0.97)[0]
    too_many = [{"spoccId": "10000000040", "quantity": 1, "price": "99"}] * 2
    assert "2 wanted, 1 available" in rules.acceptance_failures(too_many, stock, 1, 0.97)[0]


@pytest.mark.parametrize(("code", "outcome"), [("bad_address", "bad_address"),
                                               ("insufficient_stock", "not_enough_stock"),
                                               ("unknown_referrer", "registration_failed")])
def test_rejection_chooses_the_status_outcome(code, outcome):
    assert rules.rejection_outcome(code) == outcome


def test_return_reason_is_mapped_else_no_reason():
    ret = {"properties": [{"typeId": 35, "value": "4"}]}
    assert rules.return_reason(ret, {4: 7}) == 7
    assert rules.return_reason(ret, {}) == 1
    assert rules.return_reason({"properties": []}, {4: 7}) == 1


def test_parent_of_a_return_comes_from_its_relations():
    ret = {"relations": [{"referenceType": "warehouse", "referenceId": 1, "relation": "sender"},
                         {"referenceType": "order", "referenceId": 1000, "relation": "parent"}]}
    assert rules.parent_order_id(ret) == 1000
    assert rules.parent_order_id({"relations": []}) is None


def test_payment_reports_the_invoice_total():
    assert rules.payment_body(order())["amount"] == "124.85"
    assert rules.money(Decimal("1.005")) == "1.01"
