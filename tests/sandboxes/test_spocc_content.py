"""Content Article API: paging through the catalogue, details, images, reference data."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

from tests.sandboxes.spocc_fixtures import SpoccServer


def test_variation_pages_reach_every_variation_of_16k_exactly_once(
    spocc_16k: SpoccServer,
) -> None:
    seen: list[str] = []
    pages = list(spocc_16k.pages(spocc_16k.content, "/variations", 1000))
    for body in pages:
        assert body["totalCount"] == 16_000 and body["pageCount"] == 16
        seen += [item["spoccId"] for item in body["items"]]
    assert len(pages) == 16
    assert len(seen) == 16_000 and len(set(seen)) == 16_000
    assert seen == sorted(seen)
    assert all(len(s) == 11 and s.isdigit() for s in seen)


def test_article_pages_cover_the_same_variations(spocc_16k: SpoccServer) -> None:
    from_articles: list[str] = []
    numbers: list[str] = []
    for body in spocc_16k.pages(spocc_16k.content, "/articles", 250):
        for article in body["items"]:
            numbers.append(article["articleNumber"])
            for colour in article["colours"]:
                assert len(colour["eccVariationNumber"]) == 8
                for v in colour["variations"]:
                    assert v["spoccId"] == colour["eccVariationNumber"] + v["sizeNumber"]
                    from_articles.append(v["spoccId"])
    assert len(numbers) == len(set(numbers))
    assert len(from_articles) == 16_000 == len(set(from_articles))


def test_a_page_after_the_last_is_empty_and_last(spocc: SpoccServer) -> None:
    body = spocc.content("/variations", params={"page": 99, "pageSize": 100}).json()
    assert body["items"] == [] and body["isLastPage"] is True and body["totalCount"] == 600


def test_page_size_out_of_range_is_400(spocc: SpoccServer) -> None:
    for params in ({"pageSize": 1001}, {"pageSize": 0}, {"page": 0}, {"page": "x"}):
        answer = spocc.content("/variations", params=params)
        assert answer.status_code == 400, params
        assert answer.json()["error"]["code"] == "invalid_parameter"


def test_article_and_variation_details_agree(spocc: SpoccServer) -> None:
    listed = spocc.content("/articles", params={"pageSize": 3}).json()["items"][2]
    article = spocc.content(f"/articles/{listed['articleNumber']}").json()
    assert article == listed
    spocc_id = article["colours"][0]["variations"][0]["spoccId"]
    variation = spocc.content(f"/variations/{spocc_id}").json()
    assert variation["articleNumber"] == article["articleNumber"]
    assert variation["productGroupId"] == article["productGroup"]["id"]
    assert variation["images"] == article["colours"][0]["images"]


def test_unknown_and_malformed_ids(spocc: SpoccServer) -> None:
    assert spocc.content("/variations/123").json()["error"]["code"] == "invalid_spocc_id"
    assert spocc.content("/variations/99999999001").status_code == 404
    assert spocc.content("/articles/1").status_code == 404


def test_image_content_hash_is_the_sha256_of_the_served_bytes(spocc: SpoccServer) -> None:
    article = spocc.content("/articles", params={"pageSize": 1}).json()["items"][0]
    for image in article["colours"][0]["images"]:
        data = requests.get(image["url"], timeout=10)
        assert data.headers["Content-Type"] == "image/png"
        assert image["contentHash"] == "sha256:" + hashlib.sha256(data.content).hexdigest()
        assert image["version"] == 1


def test_content_changed_since_after_creation_is_empty(spocc: SpoccServer) -> None:
    everything = spocc.content("/variations", params={"changedSince": "2020-01-01T00:00:00Z"})
    nothing = spocc.content("/variations", params={"changedSince": "2030-01-01T00:00:00Z"})
    assert everything.json()["totalCount"] == 600
    assert nothing.json()["totalCount"] == 0


def test_new_images_show_as_changed_content_with_new_hash_and_bytes(spocc: SpoccServer) -> None:
    before = {a["articleNumber"]: a for a in
              spocc.content("/articles", params={"pageSize": 1000}).json()["items"]}
    cutoff = spocc.content("/ping").json()["serverTime"]
    mutation = spocc.admin("POST", "/catalogue/mutate", json={"percent": 20, "kind": "images"})
    changed = spocc.content("/articles", params={"changedSince": cutoff,
                                                 "pageSize": 1000}).json()
    assert changed["totalCount"] == mutation["count"] > 0
    for article in changed["items"]:
        old = before[article["articleNumber"]]
        image, old_image = article["colours"][0]["images"][0], old["colours"][0]["images"][0]
        assert image["url"] == old_image["url"] and image["version"] == old_image["version"] + 1
        assert image["contentHash"] != old_image["contentHash"]
        served = requests.get(image["url"], timeout=10).content
        assert image["contentHash"] == "sha256:" + hashlib.sha256(served).hexdigest()
        assert article["changedAt"] >= cutoff
    variations = spocc.content("/variations", params={"changedSince": cutoff,
                                                      "pageSize": 1000}).json()
    assert {v["articleNumber"] for v in variations["items"]} == {
        a["articleNumber"] for a in changed["items"]
    }
    assert variations["totalCount"] == sum(
        len(c["variations"]) for a in changed["items"] for c in a["colours"]
    )
    unchanged = spocc.stock("/stock", params={"changedSince": cutoff}).json()
    assert unchanged["totalCount"] == 0


def test_timestamp_without_zone_is_400(spocc: SpoccServer) -> None:
    answer = spocc.content("/variations", params={"changedSince": "2026-01-01T00:00:00"})
    assert answer.status_code == 400


def test_reference_data_attributes_and_product_groups(spocc: SpoccServer) -> None:
    attributes: list[dict[str, Any]] = spocc.content("/attributes").json()["items"]
    groups: list[dict[str, Any]] = spocc.content("/product-groups").json()["items"]
    value_ids = {v["id"] for a in attributes for v in a["values"]}
    group_ids = {g["id"] for g in groups}
    for article in spocc.content("/articles", params={"pageSize": 50}).json()["items"]:
        assert article["productGroup"]["id"] in group_ids
        assert {a["valueId"] for a in article["attributes"]} <= value_ids


def test_filter_by_product_group(spocc: SpoccServer) -> None:
    body = spocc.content("/articles", params={"productGroupId": 1, "pageSize": 1000}).json()
    assert body["items"] and all(a["productGroup"]["id"] == 1 for a in body["items"])
    assert body["totalCount"] == len(body["items"])
