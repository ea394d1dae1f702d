"""Global Stock API: full and delta paging, reservations, prices."""

from __future__ import annotations

from typing import Any

from tests.sandboxes.spocc_fixtures import SpoccServer

ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "street": "Hauptstraße",
           "houseNumber": "1", "postalCode": "10115", "city": "Berlin", "country": "DE"}


def _all(server: SpoccServer, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for body in server.pages(server.stock, "/stock", 1000, **params):
        items += body["items"]
    return items


def test_stock_pages_reach_every_variation_of_16k_exactly_once(spocc_16k: SpoccServer) -> None:
    items = _all(spocc_16k)
    ids = [i["spoccId"] for i in items]
    assert len(ids) == 16_000 == len(set(ids)) and ids == sorted(ids)
    stores = {e["channelStore"] for i in items for e in i["stock"]}
    assert stores == {1, 2, 3}
    sample = items[123]
    assert set(sample["prices"]) == {"retail", "target", "recommendedRetail", "currency"}
    for entry in sample["stock"]:
        assert entry["available"] == entry["onHand"] - entry["reserved"]


def test_changed_since_after_a_mutate_returns_exactly_the_changed(spocc_16k: SpoccServer) -> None:
    first = spocc_16k.stock("/stock", params={"pageSize": 1}).json()
    cutoff = first["serverTime"]
    assert spocc_16k.stock("/stock", params={"changedSince": cutoff}).json()["totalCount"] == 0
    before = {i["spoccId"]: i for i in _all(spocc_16k)}
    mutation = spocc_16k.admin("POST", "/catalogue/mutate", json={"percent": 1})
    assert mutation["count"] == 160
    delta = _all(spocc_16k, changedSince=cutoff)
    assert len(delta) == 160 == len({i["spoccId"] for i in delta})
    assert all(i["changedAt"] >= cutoff for i in delta)
    moved = [i for i in delta if (i["stock"], i["prices"]) != (before[i["spoccId"]]["stock"],
                                                              before[i["spoccId"]]["prices"])]
    assert len(moved) > 150
    # The rest of the catalogue is exactly as it was.
    after = {i["spoccId"]: i for i in _all(spocc_16k)}
    delta_ids = {i["spoccId"] for i in delta}
    assert all(after[s] == before[s] for s in before if s not in delta_ids)


def test_a_delta_paged_while_data_changes_misses_nothing(spocc_16k: SpoccServer) -> None:
    start = spocc_16k.stock("/stock", params={"pageSize": 1}).json()["serverTime"]
    spocc_16k.admin("POST", "/catalogue/mutate", json={"percent": 2})
    page1 = spocc_16k.stock("/stock", params={"changedSince": start, "pageSize": 50}).json()
    cutoff = page1["serverTime"]
    assert page1["totalCount"] == 320
    this_run = [i["spoccId"] for i in page1["items"]]
    for page in range(2, page1["pageCount"] + 1):
        # Changes land between the pages: some of them hit variations already delivered.
        spocc_16k.admin("POST", "/catalogue/mutate", json={"percent": 1})
        body = spocc_16k.stock("/stock", params={
            "changedSince": start, "changedBefore": cutoff, "pageSize": 50, "page": page,
        }).json()
        assert body["totalCount"] == 320
        this_run += [i["spoccId"] for i in body["items"]]
    assert len(this_run) == 320 == len(set(this_run))
    next_run = {i["spoccId"] for i in _all(spocc_16k, changedSince=cutoff)}
    assert len(next_run) > 0
    assert set(this_run) | next_run == {i["spoccId"] for i in _all(spocc_16k, changedSince=start)}


def test_a_full_sync_window_keeps_its_size_while_data_changes(spocc: SpoccServer) -> None:
    cutoff = spocc.stock("/stock", params={"pageSize": 1}).json()["serverTime"]
    spocc.admin("POST", "/catalogue/mutate", json={"percent": 10})
    held = _all(spocc, changedBefore=cutoff)
    assert len(held) == 600 == len({i["spoccId"] for i in held})
    assert sum(1 for i in held if i["changedAt"] >= cutoff) == 60


def test_registering_an_order_reserves_stock_and_moves_changed_at(spocc: SpoccServer) -> None:
    items = _all(spocc)
    item = next(i for i in items if i["stock"][0]["available"] >= 2)
    cutoff = spocc.stock("/stock", params={"pageSize": 1}).json()["serverTime"]
    order = {"plentyOrderId": 1, "channelStore": 1, "referrerId": 1, "billingAddress": ADDRESS,
             "lines": [{"spoccId": item["spoccId"], "quantity": 2, "price": "10.00"}]}
    assert spocc.tx("POST", "/orders", json=order, idem="r1").status_code == 201
    after = spocc.stock(f"/stock/{item['spoccId']}").json()
    assert after["stock"][0]["reserved"] == 2
    assert after["stock"][0]["available"] == item["stock"][0]["available"] - 2
    assert after["stock"][0]["onHand"] == item["stock"][0]["onHand"]
    delta = _all(spocc, changedSince=cutoff)
    assert [i["spoccId"] for i in delta] == [item["spoccId"]]


def test_filters_by_channel_store_and_spocc_ids(spocc: SpoccServer) -> None:
    items = _all(spocc)
    wanted = [items[5]["spoccId"], items[77]["spoccId"]]
    body = spocc.stock("/stock", params={"spoccId": wanted, "channelStore": 2}).json()
    assert [i["spoccId"] for i in body["items"]] == wanted
    assert all([e["channelStore"] for e in i["stock"]] == [2] for i in body["items"])
    assert spocc.stock("/stock", params={"channelStore": 9}).json()["error"]["code"] == (
        "unknown_channel_store"
    )


def test_channel_stores_are_listed(spocc: SpoccServer) -> None:
    body = spocc.stock("/channel-stores").json()
    assert [s["number"] for s in body["items"]] == [1, 2, 3]
    assert body["isLastPage"] is True
