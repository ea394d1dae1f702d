"""PlentyOneClient against the PlentyONE sandbox over real HTTP: routes, shapes, pagination."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from clients.errors import NotFound, Unprocessable
from clients.plentyone import PlentyOneClient
from sandboxes.common.server import BackgroundServer
from tests.clients.conftest import Admin

PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def test_pages_through_16k_catalogue_and_stops_on_last_page(
    plenty_catalogue: BackgroundServer, plenty_client: Callable[..., PlentyOneClient]
) -> None:
    client = plenty_client(plenty_catalogue.url)
    admin = Admin(plenty_catalogue.url)
    admin.clear_stats()
    ids = [v["id"] for v in client.variations()]
    assert len(ids) == 16_000
    assert len(set(ids)) == 16_000
    # 250 a page: exactly 64 pages, no extra request for an empty page after the last
    assert admin.calls("GET", "/rest/items/variations") == 64


def test_lookups_of_the_integration_check_load(
    plenty_catalogue: BackgroundServer, plenty_client: Callable[..., PlentyOneClient]
) -> None:
    client = plenty_client(plenty_catalogue.url)
    assert {w["id"] for w in client.warehouses()}
    assert {"EAN", "SPoCC ID"} <= {b["name"] for b in client.barcode_types()}
    assert len(client.sales_prices()) >= 3
    assert any(r["id"] == 0 for r in client.referrers())
    assert 5.0 in {s["statusId"] for s in client.order_statuses()}
    assert any(r["id"] == 1 for r in client.return_reasons())
    assert client.tags()
    assert client.properties()
    assert list(client.categories())
    assert {a["backendName"] for a in client.attributes()} >= {"Colour", "Size"}
    warehouse = client.warehouses()[0]["id"]
    assert client.exists(client.warehouses, warehouse)
    assert not client.exists(client.warehouses, 999_999)


def test_finds_variation_by_number_and_barcode_with_relations(
    plenty_catalogue: BackgroundServer, plenty_client: Callable[..., PlentyOneClient]
) -> None:
    client = plenty_client(plenty_catalogue.url)
    first = next(iter(client.variations(with_=("variationBarcodes",), items_per_page=1)))
    by_number = client.variation_by_number(first["number"])
    assert by_number is not None and by_number["id"] == first["id"]
    code = first["variationBarcodes"][0]["code"]
    by_code = client.variation_by_barcode(code, with_=("variationBarcodes",))
    assert by_code is not None and by_code["id"] == first["id"]
    assert client.variation_by_number("00000000000") is None


def test_creates_item_variation_barcode_prices_and_stock(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox(variations=0)
    client = plenty_client(server.url)
    admin = Admin(server.url)
    item = client.create_item(
        {"variations": [{"number": "12345678042", "externalId": "12345678042", "isActive": False,
                         "variationClients": [{"plentyId": 1000}],
                         "unit": {"unitId": 1, "content": 1}}]}
    )
    assert item["id"] > 0 and item["variations"][0]["number"] == "12345678042"
    item_id = item["id"]
    variation_id = item["variations"][0]["id"]
    second = client.add_variation(item_id, {"number": "12345678043", "isActive": False,
                                            "unit": {"unitId": 1, "content": 1}})
    assert second["itemId"] == item_id

    spocc_type = next(b["id"] for b in client.barcode_types() if b["name"] == "SPoCC ID")
    added = client.add_variation_barcode(item_id, variation_id, spocc_type, "12345678042")
    assert added["code"] == "12345678042"
    assert [b["code"] for b in client.variation_barcodes(item_id, variation_id)] == [
        "12345678042"
    ]
    found = client.variation_by_barcode("12345678042")
    assert found is not None and found["id"] == variation_id

    price_id = client.sales_prices()[0]["id"]
    client.set_variation_sales_prices(
        [{"variationId": variation_id, "salesPriceId": price_id, "price": 79.95}]
    )
    prices = list(client.variation_sales_prices(variation_id=variation_id))
    assert [(p["salesPriceId"], p["price"]) for p in prices] == [(price_id, 79.95)]

    warehouse = client.warehouses()[0]["id"]
    sent = client.correct_stock(
        warehouse,
        [{"variationId": variation_id, "quantity": 7, "storageLocationId": 0, "reasonId": 301}],
    )
    assert sent == 1
    stock = client.variation_stock([variation_id])[variation_id]
    assert [(s["warehouseId"], s["stockPhysical"]) for s in stock] == [(warehouse, 7.0)]
    kinds = [e["kind"] for e in admin.ledger()]
    assert kinds.count("item.created") == 1 and kinds.count("stock.corrected") == 1


def test_bulk_updates_go_in_chunks_of_50(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox(variations=120)
    client = plenty_client(server.url)
    admin = Admin(server.url)
    variations = list(client.variations())
    price_id = client.sales_prices()[0]["id"]
    admin.clear_stats()
    client.set_variation_sales_prices(
        {"variationId": v["id"], "salesPriceId": price_id, "price": 10.0 + i}
        for i, v in enumerate(variations)
    )
    assert admin.calls("PUT", "/rest/items/variations/variation_sales_prices") == 3
    client.update_variations({"id": v["id"], "itemId": v["itemId"], "isActive": True}
                             for v in variations[:60])
    assert admin.calls("PUT", "/rest/items/variations") == 2
    assert all(v["isActive"] for v in client.variations(ids=[v["id"] for v in variations[:60]]))
    # the cap is PlentyONE's: 51 records in one call is a permanent 422
    with pytest.raises(Unprocessable):
        client.call("PUT", "/rest/items/variations/variation_sales_prices",
                    json=[{"variationId": variations[0]["id"], "salesPriceId": price_id,
                           "price": 1.0}] * 51)


def test_properties_categories_attributes_tags_and_images(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox(variations=5)
    client = plenty_client(server.url)
    variation = next(iter(client.variations()))
    vid, item_id = variation["id"], variation["itemId"]

    prop = client.properties()[0]["id"]
    client.create_variation_properties([{"variationId": vid, "propertyId": prop,
                                         "valueTexts": [{"lang": "de", "value": "Leder"}]}])
    category = client.create_category({"type": "item", "details": [
        {"lang": "de", "name": "Sneaker", "plentyId": 1000}]})[0]
    client.link_variation_categories([{"variationId": vid, "categoryId": category["id"]}])
    with_cats = next(iter(client.variations(ids=[vid], with_=("variationCategories",))))
    assert category["id"] in {c["categoryId"] for c in with_cats["variationCategories"]}

    attribute = client.create_attribute("Width", position=9)
    value = client.create_attribute_value(attribute["id"], "wide")
    assert value["attributeId"] == attribute["id"]
    assert [v["backendName"] for v in client.attribute_values(attribute["id"])] == ["wide"]

    tag = client.create_tag("extended data")
    client.tag_variation(tag["id"], vid)
    assert [v["id"] for v in client.variations(variation_tag_id=tag["id"])] == [vid]

    image = client.upload_image(item_id, image_data_base64=PNG_1PX, file_type="png")
    link = client.link_variation_image(item_id, vid, image["id"])
    assert (link["imageId"], link["variationId"]) == (image["id"], vid)
    with_images = next(iter(client.variations(ids=[vid], with_=("images",))))
    assert image["id"] in {i["id"] for i in with_images["images"]}


def _order(admin: Admin, client: PlentyOneClient, **extra: Any) -> dict[str, Any]:
    variation = next(iter(client.variations()))
    body = {"referrerId": 104.01, "statusId": 5, "warehouseId": 1, "fireEvents": False,
            "lines": [{"variationId": variation["id"], "quantity": 2, "price": 59.95}]}
    return dict(admin.post("/orders", body | extra))


def test_order_read_update_ship_cancel_and_return(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox(variations=5)
    client = plenty_client(server.url, priority="orders")
    admin = Admin(server.url)
    created = _order(admin, client)
    order = client.order(created["id"])
    assert order["referrerId"] == 104.01 and order["statusId"] == 5.0
    assert order["orderItems"] and order["orderItems"][0]["quantity"] == 2.0

    updated = client.update_order(order["id"], status_id=5.1,
                                  properties=[{"typeId": 7, "value": "SO00000001"}])
    assert updated["statusId"] == 5.1
    assert [o["id"] for o in client.search_orders(status_id=5.1)] == [order["id"]]

    package = client.add_shipping_package(order["id"], "00340434161094042557")
    assert package["packageNumber"] == "00340434161094042557"
    assert [p["packageNumber"] for p in client.shipping_packages(order["id"])] == [
        "00340434161094042557"
    ]

    item = next(i for i in order["orderItems"] if i["itemVariationId"])
    ret = client.create_return(order["id"], [{"orderItemId": item["id"], "quantity": 1}])
    assert ret["typeId"] == 3 and ret["id"] != order["id"]

    other = _order(admin, client)
    client.cancel_order(other["id"], status_id=8)
    assert client.order(other["id"])["statusId"] >= 8
    kinds = [e["kind"] for e in admin.ledger()]
    assert kinds.count("order.status_changed") >= 1
    assert kinds.count("order.return_created") == 1
    assert kinds.count("order.cancelled") == 1

    with pytest.raises(NotFound):
        client.order(987_654)
