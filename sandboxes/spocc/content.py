"""Content Article API: articles, variations, attributes, product groups, images."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from sandboxes.catalogue import ATTRIBUTES, PRODUCT_GROUPS, Article, Image, Variation
from sandboxes.spocc.api import api_blueprint
from sandboxes.spocc.auth import CONTENT_ARTICLE, Credentials, RateLimiter
from sandboxes.spocc.errors import ApiError
from sandboxes.spocc.params import (
    check_spocc_id,
    envelope,
    iso,
    optional_int_arg,
    page_args,
    paged_list,
    timestamp_arg,
)
from sandboxes.spocc.state import SpoccState

PREFIX = "/content-article/v1"


def _image_json(image: Image, base: str) -> dict[str, Any]:
    return {
        "position": image.position,
        "url": base + image.path,
        "contentHash": image.content_hash,
        "version": image.version,
    }


def _content_in_window(created: datetime) -> bool:
    """Content never changes after creation in the sandbox: all or nothing is "changed"."""
    since, before = timestamp_arg("changedSince"), timestamp_arg("changedBefore")
    return (since is None or since <= created) and (before is None or created < before)


def content_blueprint(
    state: SpoccState, credentials: Credentials, limiter: RateLimiter
) -> Blueprint:
    bp = api_blueprint("content_article", PREFIX, CONTENT_ARTICLE, credentials, limiter)
    catalogue = state.catalogue
    group_members: dict[int, list[int]] = {}

    def base() -> str:
        return request.host_url.rstrip("/")

    def article_json(article: Article) -> dict[str, Any]:
        root = base()
        colours = []
        for colour in article.colours:
            variations = catalogue.variations(
                colour.first_index, colour.first_index + colour.size_count
            )
            colours.append({
                "eccVariationNumber": colour.ecc,
                "colourCode": colour.code,
                "colourName": colour.name,
                "images": [_image_json(i, root) for i in colour.images],
                "variations": [
                    {"spoccId": v.spocc_id, "sizeNumber": v.size_number, "size": v.size,
                     "ean": v.ean}
                    for v in variations
                ],
            })
        return {
            "articleNumber": article.article_number,
            "name": article.name,
            "brand": article.brand,
            "productGroup": {"id": article.product_group.id, "name": article.product_group.name},
            "attributes": [{"attributeId": a, "valueId": v} for a, v in article.attributes],
            "colours": colours,
            "changedAt": iso(article.changed_at),
        }

    def variation_json(v: Variation, article: Article) -> dict[str, Any]:
        colour = article.colours[v.colour_position]
        return {
            "spoccId": v.spocc_id,
            "eccVariationNumber": v.ecc,
            "sizeNumber": v.size_number,
            "size": v.size,
            "ean": v.ean,
            "articleNumber": article.article_number,
            "name": article.name,
            "brand": article.brand,
            "colourCode": v.colour_code,
            "colourName": v.colour_name,
            "productGroupId": article.product_group.id,
            "attributes": [{"attributeId": a, "valueId": val} for a, val in article.attributes],
            "images": [_image_json(i, base()) for i in colour.images],
            "changedAt": iso(article.changed_at),
        }

    def members(group_id: int) -> list[int]:
        if group_id not in group_members:
            group_members[group_id] = [
                k for k in range(catalogue.article_count)
                if catalogue.article(k).product_group.id == group_id
            ]
        return group_members[group_id]

    @bp.get("/articles")
    def list_articles() -> Any:
        page, size = page_args()
        group = optional_int_arg("productGroupId")
        if not _content_in_window(catalogue.created_at):
            return envelope(page, size, 0, [])
        if group is not None:
            selected = members(group)
            start = (page - 1) * size
            chosen = selected[start : start + size]
            return envelope(page, size, len(selected),
                            [article_json(catalogue.article(k)) for k in chosen])
        start = (page - 1) * size
        stop = min(start + size, catalogue.article_count)
        items = [article_json(a) for a in catalogue.articles(start, stop)] if start < stop else []
        return envelope(page, size, catalogue.article_count, items)

    @bp.get("/articles/<article_number>")
    def get_article(article_number: str) -> Any:
        k = catalogue.article_index_of(article_number)
        if k is None:
            raise ApiError(404, "not_found", f"no article {article_number}")
        return article_json(catalogue.article(k))

    @bp.get("/variations")
    def list_variations() -> Any:
        page, size = page_args()
        article_number = request.args.get("articleNumber")
        if not _content_in_window(catalogue.created_at):
            return envelope(page, size, 0, [])
        if article_number:
            k = catalogue.article_index_of(article_number)
            if k is None:
                return envelope(page, size, 0, [])
            article = catalogue.article(k)
            first, total = article.first_index, article.variation_count
        else:
            first, total = 0, len(catalogue)
        start = (page - 1) * size
        items: list[dict[str, Any]] = []
        current: Article | None = None
        if start < total:
            for v in catalogue.variations(first + start, first + min(start + size, total)):
                if current is None or current.index != v.article_index:
                    current = catalogue.article(v.article_index)
                items.append(variation_json(v, current))
        return envelope(page, size, total, items)

    @bp.get("/variations/<spocc_id>")
    def get_variation(spocc_id: str) -> Any:
        index = catalogue.index_of(check_spocc_id(spocc_id))
        if index is None:
            raise ApiError(404, "not_found", f"no variation {spocc_id}")
        v = catalogue.variation(index)
        return variation_json(v, catalogue.article(v.article_index))

    @bp.get("/attributes")
    def list_attributes() -> Any:
        return paged_list(ATTRIBUTES, lambda a: {
            "id": a.id,
            "name": a.name,
            "values": [{"id": v.id, "name": v.name} for v in a.values],
        })

    @bp.get("/product-groups")
    def list_product_groups() -> Any:
        return paged_list(PRODUCT_GROUPS, lambda g: {"id": g.id, "name": g.name})

    return bp


def media_blueprint(state: SpoccState) -> Blueprint:
    """Image bytes, fetched without API headers like a CDN."""
    bp = Blueprint("media", __name__)

    @bp.get("/media/<ecc>/<int:position>.png")
    def image(ecc: str, position: int) -> Response:
        catalogue = state.catalogue
        if not catalogue.ecc_exists(ecc) or not 1 <= position <= catalogue.image_count(ecc):
            raise ApiError(404, "not_found", "no such image")
        return Response(catalogue.image_bytes(ecc, position), mimetype="image/png")

    return bp
