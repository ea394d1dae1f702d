"""Items, variations and their relations, stock, pagination and bulk caps of the PlentyONE
sandbox, over real HTTP; every answer is checked against the official description."""

from __future__ import annotations

import base64
from typing import Any

import requests

from sandboxes.catalogue import Catalogue
from tests.sandboxes.conftest import PlentyServer

SPOCC_BARCODE = 2
EAN_BARCODE = 1


def _get(plenty: PlentyServer, headers: dict[str, str], path: str, **params: Any) -> Any:
    answer = plenty.http.get(f"{plenty.url}{path}", headers=headers, params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _send(plenty: PlentyServer, headers: dict[str, str], method: str, path: str,
          body: Any) -> requests.Response:
    return plenty.http.request(method, f"{plenty.url}{path}", headers=headers, json=body,
                               timeout=10)


def test_pagination_over_16k_catalogue_stops_on_is_last_page(
    plenty_catalogue: PlentyServer,
) -> None:
    headers = plenty_catalogue.authed()
    ids: list[int] = []
    page = 1
    while True:
        body = _get(plenty_catalogue, headers, "/rest/items/variations", page=page,
                    itemsPerPage=250)
        assert body["page"] == page
        assert body["totalsCount"] == 16_000
        assert body["itemsPerPage"] == 250
        assert body["firstOnPage"] == (page - 1) * 250 + 1
        assert body["lastOnPage"] == body["firstOnPage"] + len(body["entries"]) - 1
        ids.extend(v["id"] for v in body["entries"])
        if body["isLastPage"]:
            break
        page += 1
    assert page == body["lastPageNumber"] == 64
    assert len(ids) == len(set(ids)) == 16_000


def test_items_per_page_is_capped_at_250(plenty_catalogue: PlentyServer) -> None:
    body = _get(plenty_catalogue, plenty_catalogue.authed(), "/rest/items/variations",
                itemsPerPage=1000)
    assert body["itemsPerPage"] == 250
    assert len(body["entries"]) == 250


def test_seeded_variations_carry_the_spocc_id_as_number_and_barcode(
    plenty_catalogue: PlentyServer,
) -> None:
    headers = plenty_catalogue.authed()
    expected = Catalogue(variations=16_000, seed=1).variation(12_345)
    by_number = _get(plenty_catalogue, headers, "/rest/items/variations",
                     numberExact=expected.spocc_id)
    assert by_number["totalsCount"] == 1
    by_barcode = _get(plenty_catalogue, headers, "/rest/items/variations",
                      barcode=expected.spocc_id, **{"with": "variationBarcodes"})
    variation = by_barcode["entries"][0]
    assert variation["id"] == by_number["entries"][0]["id"]
    assert variation["number"] == expected.spocc_id
    codes = {(b["barcodeId"], b["code"]) for b in variation["variationBarcodes"]}
    assert (SPOCC_BARCODE, expected.spocc_id) in codes
    if expected.ean:
        assert (EAN_BARCODE, expected.ean) in codes


def _create_item(plenty: PlentyServer, headers: dict[str, str], number: str) -> dict[str, Any]:
    answer = _send(plenty, headers, "POST", "/rest/items", {
        "variations": [{
            "number": number, "externalId": f"ext-{number}", "isActive": True,
            "variationClients": [{"plentyId": 1000}],
            "variationBarcodes": [{"barcodeId": SPOCC_BARCODE, "code": number}],
            "variationCategories": [{"categoryId": 2}],
            "unit": {"unitId": 1, "content": 1},
        }],
    })
    assert answer.status_code == 200, answer.text
    item: dict[str, Any] = answer.json()
    return item


def test_item_with_first_variation_then_relations_show_in_with(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    item = _create_item(plenty, headers, "99900000001")
    first = item["variations"][0]
    assert item["mainVariationId"] == first["id"]
    vid = first["id"]

    second = _send(plenty, headers, "POST", f"/rest/items/{item['id']}/variations", {
        "itemId": item["id"], "number": "99900000002", "isActive": False,
        "unit": {"unitId": 1, "content": 1}, "valueId": 0,
    })
    assert second.status_code == 200, second.text
    assert second.json()["mainVariationId"] == vid

    ean = _send(plenty, headers, "POST",
                f"/rest/items/{item['id']}/variations/{vid}/variation_barcodes",
                {"barcodeId": EAN_BARCODE, "code": "4006381333931", "variationId": vid})
    assert ean.status_code == 200, ean.text
    prices = _send(plenty, headers, "PUT", "/rest/items/variations/variation_sales_prices", [
        {"variationId": vid, "salesPriceId": 1, "price": 59.95},
        {"variationId": vid, "salesPriceId": 2, "price": 49.95},
        {"variationId": vid, "salesPriceId": 3, "price": 69.95},
    ])
    assert prices.status_code == 200, prices.text
    props = _send(plenty, headers, "POST", "/rest/items/variations/variation_properties", [
        {"variationId": vid, "propertyId": 2, "lang": "de", "value": "Leder"},
    ])
    assert props.status_code == 200, props.text
    cats = _send(plenty, headers, "POST", "/rest/items/variations/variation_categories", [
        {"variationId": vid, "categoryId": 4},
    ])
    assert cats.status_code == 200, cats.text
    tag = _send(plenty, headers, "POST", "/rest/tags/relationships",
                {"tagId": 1, "tagType": "variation", "relationshipValue": vid})
    assert tag.status_code == 200, tag.text
    assert tag.json()["value"] == str(vid)
    stock = _send(plenty, headers, "PUT", "/rest/stockmanagement/warehouses/2/stock/correction",
                  {"corrections": [{"variationId": vid, "quantity": 7, "storageLocationId": 0,
                                    "reasonId": 301}]})
    assert stock.status_code == 200, stock.text

    found = _get(plenty, headers, "/rest/items/variations", id=vid, **{
        "with": "variationBarcodes,variationSalesPrices,variationProperties,"
                "variationCategories,stock"})
    view = found["entries"][0]
    assert {b["code"] for b in view["variationBarcodes"]} == {"99900000001", "4006381333931"}
    assert {(p["salesPriceId"], p["price"]) for p in view["variationSalesPrices"]} == {
        (1, 59.95), (2, 49.95), (3, 69.95)}
    assert view["variationProperties"][0]["valueTexts"][0]["value"] == "Leder"
    assert {c["categoryId"] for c in view["variationCategories"]} == {2, 4}
    assert [(s["warehouseId"], s["stockPhysical"]) for s in view["stock"]] == [(2, 7.0)]
    tagged = _get(plenty, headers, "/rest/items/variations", variationTagId=1)
    assert [v["id"] for v in tagged["entries"]] == [vid]

    kinds = [e["kind"] for e in plenty.ledger()]
    assert kinds.count("item.created") == 1
    assert kinds.count("variation.created") == 2
    assert kinds.count("price.set") == 3
    assert kinds.count("stock.corrected") == 1
    assert kinds.count("tag.linked") == 1


def test_stock_correction_sets_absolute_quantities(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    vid = _get(plenty, headers, "/rest/items/variations", itemsPerPage=1)["entries"][0]["id"]
    path = "/rest/stockmanagement/warehouses/1/stock/correction"
    for quantity in (10, 4, 4):
        answer = _send(plenty, headers, "PUT", path, {"corrections": [
            {"variationId": vid, "quantity": quantity, "storageLocationId": 0,
             "reasonId": 301}]})
        assert answer.status_code == 200, answer.text
    view = _get(plenty, headers, "/rest/items/variations", id=vid, **{"with": "stock"})
    assert view["entries"][0]["stock"][0]["stockPhysical"] == 4
    entries = plenty.ledger("stock.corrected")
    assert [(e["data"]["previous"], e["data"]["quantity"]) for e in entries] == [
        (0.0, 10.0), (10.0, 4.0), (4.0, 4.0)]
    bad_reason = _send(plenty, headers, "PUT", path, {"corrections": [
        {"variationId": vid, "quantity": 1, "reasonId": 101}]})
    assert bad_reason.status_code == 422
    assert _send(plenty, headers, "PUT", "/rest/stockmanagement/warehouses/99/stock/correction",
                 {"corrections": [{"variationId": vid, "quantity": 1}]}).status_code == 404


def test_bulk_routes_take_50_records_and_refuse_51(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    variations = _get(plenty, headers, "/rest/items/variations", itemsPerPage=40)["entries"]
    vids = [v["id"] for v in variations]
    fifty = [{"variationId": vids[i % len(vids)], "salesPriceId": 1 + i // len(vids),
              "price": 10.0 + i} for i in range(50)]
    route = "/rest/items/variations/variation_sales_prices"
    assert _send(plenty, headers, "PUT", route, fifty).status_code == 200
    fifty_one = [*fifty, {"variationId": vids[0], "salesPriceId": 3, "price": 1.0}]
    refused = _send(plenty, headers, "PUT", route, fifty_one)
    assert refused.status_code == 422
    assert "too_many_records" in refused.text
    assert len(plenty.ledger("price.set")) == 50  # nothing of the refused call applied
    updates = [{"id": vids[0], "isActive": True}] * 51
    assert _send(plenty, headers, "PUT", "/rest/items/variations", updates).status_code == 422
    props = [{"variationId": vids[0], "propertyId": 1, "lang": "de", "value": "x"}] * 51
    assert _send(plenty, headers, "PUT", "/rest/items/variations/variation_properties",
                 props).status_code == 422


def test_price_listing_pages_and_filters(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    vids = [v["id"] for v in _get(plenty, headers, "/rest/items/variations",
                                  itemsPerPage=30)["entries"]]
    route = "/rest/items/variations/variation_sales_prices"
    assert _send(plenty, headers, "POST", route, [
        {"variationId": v, "salesPriceId": 1, "price": 20.0} for v in vids]).status_code == 200
    again = _send(plenty, headers, "POST", route,
                  [{"variationId": vids[0], "salesPriceId": 1, "price": 21.0}])
    assert again.status_code == 422  # POST creates; the link exists already
    page = _get(plenty, headers, route, salesPriceId=1, page=2, itemsPerPage=25)
    assert page["totalsCount"] == 30
    assert page["isLastPage"] is True
    assert len(page["entries"]) == 5
    one = _get(plenty, headers, route, variationId=vids[3])
    assert [e["price"] for e in one["entries"].values()] == [20.0]


def test_duplicate_variation_number_and_barcode_are_refused(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    _create_item(plenty, headers, "99900000010")
    again = _send(plenty, headers, "POST", "/rest/items", {"variations": [
        {"number": "99900000010", "unit": {"unitId": 1, "content": 1}}]})
    assert again.status_code == 422
    assert "duplicate_variation_number" in again.text
    barcode_clash = _send(plenty, headers, "POST", "/rest/items", {"variations": [
        {"number": "99900000011",
         "variationBarcodes": [{"barcodeId": SPOCC_BARCODE, "code": "99900000010"}]}]})
    assert barcode_clash.status_code == 422
    assert len(plenty.ledger("item.created")) == 1


def test_updated_between_finds_only_changed_variations(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    all_ids = [v["id"] for v in _get(plenty, headers, "/rest/items/variations")["entries"]]
    import time

    since = time.time()
    time.sleep(0.01)
    changed = _send(plenty, headers, "PUT", "/rest/items/variations",
                    [{"id": all_ids[5], "isActive": False}])
    assert changed.status_code == 200, changed.text
    found = _get(plenty, headers, "/rest/items/variations", updatedBetween=f"{since:.3f}")
    assert [v["id"] for v in found["entries"]] == [all_ids[5]]
    assert found["entries"][0]["isActive"] is False


def test_image_upload_by_base64_and_url_then_link(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    first = _get(plenty, headers, "/rest/items/variations", itemsPerPage=1)["entries"][0]
    item_id, vid = first["itemId"], first["id"]
    data = base64.b64encode(b"\x89PNG fake image bytes").decode()
    by_data = _send(plenty, headers, "POST", f"/rest/items/{item_id}/images/upload", {
        "itemId": item_id, "uploadFileName": "front.png", "uploadImageData": data,
        "lang": "de", "name": "Front", "type": "internal", "value": "", "fileType": "png"})
    assert by_data.status_code == 200, by_data.text
    by_url = _send(plenty, headers, "POST", f"/rest/items/{item_id}/images/upload", {
        "itemId": item_id, "uploadFileName": "side.png",
        "uploadUrl": "https://img.spocc.example/media/1/2.png"})
    assert by_url.status_code == 200, by_url.text
    link = _send(plenty, headers, "POST",
                 f"/rest/items/{item_id}/variations/{vid}/variation_images",
                 {"imageId": by_data.json()["id"], "itemId": item_id, "variationId": vid})
    assert link.status_code == 200, link.text
    view = _get(plenty, headers, "/rest/items/variations", id=vid, **{"with": "images"})
    assert [i["id"] for i in view["entries"][0]["images"]] == [by_data.json()["id"]]
    bad = _send(plenty, headers, "POST", f"/rest/items/{item_id}/images/upload",
                {"uploadFileName": "x.png", "uploadImageData": "%%%not base64"})
    assert bad.status_code == 422
    assert [e["kind"] for e in plenty.ledger("image.uploaded", "image.linked")] == [
        "image.uploaded", "image.uploaded", "image.linked"]


def test_lookups_the_integration_check_reads(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    warehouses = _get(plenty, headers, "/rest/stockmanagement/warehouses")
    assert {w["id"] for w in warehouses["entries"]} == {1, 2, 3}
    prices = _get(plenty, headers, "/rest/items/sales_prices")
    assert {p["id"]: p["type"] for p in prices["entries"]} == {1: "default", 2: "default",
                                                               3: "rrp"}
    barcodes = _get(plenty, headers, "/rest/items/barcodes")
    assert {b["name"] for b in barcodes["entries"]} >= {"EAN", "SPoCC ID"}
    statuses = _get(plenty, headers, "/rest/orders/statuses", itemsPerPage=250)
    ids = {s["statusId"] for s in statuses["entries"]}
    assert {5, 5.1, 6.1, 6.2, 6.3, 7, 8, 8.8, 9} <= ids
    referrers = _get(plenty, headers, "/rest/orders/referrers")
    assert 104.01 in {r["id"] for r in referrers}
    reasons = _get(plenty, headers, "/rest/returns/reasons")
    assert {"id": 1, "reason": "No reason"} in reasons
    assert {t["id"] for t in _get(plenty, headers, "/rest/tags")["entries"]} >= {1, 2}
    assert {p["id"] for p in _get(plenty, headers, "/rest/properties")} >= {1, 2, 3}
    assert _get(plenty, headers, "/rest/categories")["totalsCount"] >= 5
    attributes = _get(plenty, headers, "/rest/items/attributes")
    assert {a["backendName"] for a in attributes["entries"]} == {"Colour", "Size"}
    sizes = _get(plenty, headers, "/rest/items/attributes/2/values")
    assert sizes["totalsCount"] > 0


def test_lookups_can_be_created(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    attribute = _send(plenty, headers, "POST", "/rest/items/attributes",
                      {"backendName": "Width"})
    assert attribute.status_code == 200, attribute.text
    value = _send(plenty, headers, "POST",
                  f"/rest/items/attributes/{attribute.json()['id']}/values",
                  {"attributeId": attribute.json()["id"], "backendName": "G"})
    assert value.status_code == 200, value.text
    category = _send(plenty, headers, "POST", "/rest/categories", [{
        "type": "item", "details": [{"lang": "de", "name": "Outlet", "plentyId": 1000}]}])
    assert category.status_code == 200, category.text
    tag = plenty.http.post(f"{plenty.url}/rest/tags", headers=headers,
                           params={"tagName": "Outlet", "tagLang": "de"},
                           json={"tagName": "Outlet", "tagType": "variation"}, timeout=5)
    assert tag.status_code == 200, tag.text
    prop = plenty.http.post(f"{plenty.url}/rest/properties", headers=headers,
                            params={"cast": "shortText", "typeIdentifier": "item",
                                    "position": 4},
                            json={"cast": "shortText", "position": 4, "names": []}, timeout=5)
    assert prop.status_code == 200, prop.text
    barcode = _send(plenty, headers, "POST", "/rest/items/barcodes",
                    {"name": "GTIN-14", "type": "GTIN_14", "referrerId": -1})
    assert barcode.status_code == 200, barcode.text
    warehouse = _send(plenty, headers, "POST", "/rest/stockmanagement/warehouses",
                      {"name": "Store Munich", "typeId": 0, "logisticsType": "own"})
    assert warehouse.status_code == 200, warehouse.text
    price = _send(plenty, headers, "POST", "/rest/items/sales_prices",
                  {"nameInternal": "Outlet price", "type": "default"})
    assert price.status_code == 200, price.text
    assert {e["kind"] for e in plenty.ledger()} >= {
        "attribute.created", "attribute_value.created", "category.created", "tag.created",
        "property.created", "barcode_type.created", "warehouse.created",
        "sales_price.created"}


def test_concurrent_writers_each_land_exactly_once(plenty: PlentyServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    headers = plenty.authed()
    vids = [v["id"] for v in _get(plenty, headers, "/rest/items/variations",
                                  itemsPerPage=40)["entries"]]
    route = f"{plenty.url}/rest/items/variations/variation_sales_prices"

    def push(worker: int) -> list[int]:
        codes = []
        with requests.Session() as session:
            for batch in range(10):
                body = [{"variationId": v, "salesPriceId": 1 + worker % 3,
                         "price": worker * 100 + batch} for v in vids[:20]]
                codes.append(session.put(route, headers=headers, json=body,
                                         timeout=10).status_code)
        return codes

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(push, range(6)))
    assert all(code == 200 for codes in results for code in codes)
    entries = plenty.ledger("price.set")
    assert len(entries) == 6 * 10 * 20
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    # Each (variation, price) ends at the last value some worker wrote for it.
    final = {(e["data"]["variationId"], e["data"]["salesPriceId"]): e["data"]["price"]
             for e in entries}
    view = _get(plenty, headers, "/rest/items/variations/variation_sales_prices",
                itemsPerPage=250)
    shown = {(p["variationId"], p["salesPriceId"]): p["price"]
             for p in view["entries"].values()}
    assert shown == final
