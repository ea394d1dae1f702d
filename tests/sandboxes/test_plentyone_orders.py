"""Orders in the PlentyONE sandbox: get, search, status + properties, cancel, packages,
returns, and the ledger entries each side effect leaves."""

from __future__ import annotations

from typing import Any

import requests

from tests.sandboxes.conftest import PlentyServer

SPOCC_REFERRER = 104.01


def _order(plenty: PlentyServer, **spec: Any) -> dict[str, Any]:
    variations = requests.get(f"{plenty.url}/rest/items/variations",
                              headers=plenty.authed(), params={"itemsPerPage": 3},
                              timeout=5).json()["entries"]
    body = {
        "referrerId": SPOCC_REFERRER, "plentyId": 1000, "warehouseId": 2, "statusId": 5,
        "lines": [{"variationId": variations[0]["id"], "quantity": 2, "price": 59.95},
                  {"spoccId": variations[1]["number"], "quantity": 1, "price": 89.0}],
        "addresses": {
            "billing": {"firstName": "Erika", "lastName": "Mustermann",
                        "street": "Heidestr.", "houseNumber": "17", "postalCode": "51147",
                        "town": "Köln", "countryId": 1, "email": "erika@example.com"},
            "delivery": {"firstName": "Erika", "lastName": "Mustermann",
                         "street": "Heidestr.", "houseNumber": "17", "postalCode": "51147",
                         "town": "Köln", "countryId": 1},
        },
        "properties": [{"typeId": 7, "value": "EXT-1"}],
    } | spec
    order: dict[str, Any] = plenty.admin("POST", "/orders", json=body)
    return order


def test_get_order_with_items_addresses_and_properties(plenty: PlentyServer) -> None:
    created = _order(plenty)
    headers = plenty.authed()
    answer = plenty.http.get(f"{plenty.url}/rest/orders/{created['id']}", headers=headers,
                             params=[("with[]", "addresses"), ("with[]", "orderItems.variation")],
                             timeout=5)
    assert answer.status_code == 200, answer.text
    order = answer.json()
    assert order["typeId"] == 1
    assert order["statusId"] == 5
    assert order["referrerId"] == SPOCC_REFERRER
    assert [i["quantity"] for i in order["orderItems"]] == [2, 1]
    assert order["orderItems"][0]["amounts"][0]["priceGross"] == 59.95
    assert order["orderItems"][1]["variation"]["id"] == order["orderItems"][1]["itemVariationId"]
    assert {a["pivot"]["typeId"] for a in order["addresses"]} == {1, 2}
    assert {"typeId": 7, "value": "EXT-1", "orderId": order["id"]} in order["properties"]
    without = plenty.http.get(f"{plenty.url}/rest/orders/{created['id']}", headers=headers,
                              params={"addOrderItems": "false"}, timeout=5).json()
    assert "orderItems" not in without
    missing = plenty.http.get(f"{plenty.url}/rest/orders/424242", headers=headers, timeout=5)
    assert missing.status_code == 404


def test_search_filters_by_status_and_pages(plenty: PlentyServer) -> None:
    ids_5 = [_order(plenty)["id"] for _ in range(5)]
    _order(plenty, statusId=3)
    headers = plenty.authed()
    seen: list[int] = []
    page = 1
    while True:
        body = plenty.http.get(f"{plenty.url}/rest/orders/search", headers=headers,
                               params={"statusId": 5, "itemsPerPage": 2, "page": page},
                               timeout=5).json()
        assert body["totalsCount"] == 5
        seen.extend(o["id"] for o in body["entries"])
        if body["isLastPage"]:
            break
        page += 1
    assert seen == ids_5
    assert page == 3
    by_referrer = plenty.http.get(f"{plenty.url}/rest/orders/search", headers=headers,
                                  params={"referrerId": SPOCC_REFERRER, "orderTypeId": 1},
                                  timeout=5).json()
    assert by_referrer["totalsCount"] == 6


def test_status_and_properties_update_leaves_ledger_entries(plenty: PlentyServer) -> None:
    order = _order(plenty)
    headers = plenty.authed()
    answer = plenty.http.put(f"{plenty.url}/rest/orders/{order['id']}", headers=headers,
                             json={"statusId": 5.1, "properties": [
                                 {"typeId": 7, "value": "SPOCC-778"}]}, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["statusId"] == 5.1
    # The same status again changes nothing.
    plenty.http.put(f"{plenty.url}/rest/orders/{order['id']}", headers=headers,
                    json={"statusId": 5.1}, timeout=5)
    changes = plenty.ledger("order.status_changed")
    assert [(e["data"]["previous"], e["data"]["statusId"]) for e in changes] == [(5.0, 5.1)]
    props = plenty.ledger("order.properties_set")
    assert props[0]["data"]["properties"] == [{"typeId": 7, "value": "SPOCC-778"}]
    unknown = plenty.http.put(f"{plenty.url}/rest/orders/{order['id']}", headers=headers,
                              json={"statusId": 4.7}, timeout=5)
    assert unknown.status_code == 422


def test_cancel_sets_status_8_once(plenty: PlentyServer) -> None:
    order = _order(plenty)
    headers = plenty.authed()
    answer = plenty.http.put(f"{plenty.url}/rest/orders/{order['id']}/cancel", headers=headers,
                             json={"message": "cancelled at SPoCC"}, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["statusId"] == 8
    cancels = plenty.ledger("order.cancelled")
    assert len(cancels) == 1
    assert cancels[0]["data"]["orderId"] == order["id"]


def test_shipping_package_carries_the_tracking_number(plenty: PlentyServer) -> None:
    order = _order(plenty)
    headers = plenty.authed()
    route = f"{plenty.url}/rest/orders/{order['id']}/shipping/packages"
    created = plenty.http.post(route, headers=headers, json={
        "packageId": 1, "packageType": 26, "packageNumber": "00340434161094042557",
        "weight": 900}, timeout=5)
    assert created.status_code == 200, created.text
    listed = plenty.http.get(route, headers=headers, timeout=5).json()
    assert [p["packageNumber"] for p in listed] == ["00340434161094042557"]
    found = plenty.http.get(f"{plenty.url}/rest/orders/search", headers=headers,
                            params={"packageNumber": "00340434161094042557"}, timeout=5).json()
    assert [o["id"] for o in found["entries"]] == [order["id"]]
    assert plenty.ledger("order.shipping_package_created")[0]["data"]["packageNumber"] == \
        "00340434161094042557"
    assert plenty.http.delete(route, headers=headers, timeout=5).status_code == 200
    assert plenty.http.get(route, headers=headers, timeout=5).json() == []


def test_return_is_an_order_of_type_3_with_parent_and_reason(plenty: PlentyServer) -> None:
    order = _order(plenty)
    headers = plenty.authed()
    full = plenty.http.get(f"{plenty.url}/rest/orders/{order['id']}", headers=headers,
                           timeout=5).json()
    first_item = full["orderItems"][0]
    answer = plenty.http.post(f"{plenty.url}/rest/orders/{order['id']}/returns",
                              headers=headers, json={
                                  "quantities": [{"orderItemId": first_item["id"],
                                                  "quantity": 1}],
                                  "statusId": 9, "properties": [{"typeId": 35, "value": "2"}]},
                              timeout=5)
    assert answer.status_code == 200, answer.text
    ret = answer.json()
    assert ret["typeId"] == 3
    assert ret["statusId"] == 9
    assert ret["orderReferences"] == [{"orderId": ret["id"], "originOrderId": order["id"],
                                       "referenceOrderId": order["id"],
                                       "referenceType": "parent"}]
    assert {"orderId": ret["id"], "typeId": 35, "value": "2"} in ret["properties"]
    assert [(i["itemVariationId"], i["quantity"]) for i in ret["orderItems"]] == [
        (first_item["itemVariationId"], 1)]
    returns = plenty.http.get(f"{plenty.url}/rest/orders/search", headers=headers,
                              params={"orderTypeId": 3, "orderReference_parent": order["id"]},
                              timeout=5).json()
    assert [r["id"] for r in returns["entries"]] == [ret["id"]]
    entry = plenty.ledger("order.return_created")[0]["data"]
    assert (entry["orderId"], entry["parentOrderId"], entry["reason"]) == (
        ret["id"], order["id"], "2")
    too_many = plenty.http.post(f"{plenty.url}/rest/orders/{order['id']}/returns",
                                headers=headers, json={"quantities": [
                                    {"orderItemId": first_item["id"], "quantity": 5}]},
                                timeout=5)
    assert too_many.status_code == 422


def test_admin_order_lines_by_spocc_id_resolve_to_the_seeded_variation(
    plenty: PlentyServer,
) -> None:
    headers = plenty.authed()
    variation = plenty.http.get(f"{plenty.url}/rest/items/variations", headers=headers,
                                params={"itemsPerPage": 1, "page": 7}, timeout=5
                                ).json()["entries"][0]
    order = plenty.admin("POST", "/orders", json={
        "referrerId": SPOCC_REFERRER, "lines": [{"spoccId": variation["number"],
                                                 "quantity": 1, "price": 10}]})
    assert order["orderItems"][0]["itemVariationId"] == variation["id"]
    created = plenty.ledger("order.created")
    assert created[0]["data"]["lines"] == [{"variationId": variation["id"], "quantity": 1.0}]
