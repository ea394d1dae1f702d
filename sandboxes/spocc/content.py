"""Content Article API: articles, variations, attributes, product groups, images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, request

from sandboxes.catalogue import (
    ATTRIBUTES,
    ECC_BASE,
    PRODUCT_GROUPS,
    Article,
    Catalogue,
    Image,
    Variation,
)
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
    request_started,
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


def _changed_articles(catalogue: Catalogue) -> range | list[int]:
    """Articles whose content changed at least once in [changedSince, changedBefore)."""
    since = timestamp_arg("changedSince")
    before = timestamp_arg("changedBefore") or request_started()
    return catalogue.articles_changed_within(since, before)


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
                if catalogue.product_group_of(k).id == group_id
            ]
        return group_members[group_id]

    @bp.get("/articles")
    def list_articles() -> Any:
        page, size = page_args()
        group = optional_int_arg("productGroupId")
        selected: Sequence[int] = _changed_articles(catalogue)
        if group is not None:
            wanted = set(members(group))
            selected = [k for k in selected if k in wanted]
        start = (page - 1) * size
        chosen = selected[start : start + size]
        return envelope(page, size, len(selected),
                        [article_json(catalogue.article(k)) for k in chosen])

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
        articles: Sequence[int] = _changed_articles(catalogue)
        if article_number:
            k = catalogue.article_index_of(article_number)
            articles = [k] if k is not None and k in articles else []
        indices: Sequence[int]
        if isinstance(articles, range):  # everything: no list of a million numbers
            indices = range(len(catalogue))
        else:
            indices = [i for k in articles for i in catalogue.article_range(k)]
        start = (page - 1) * size
        chosen = indices[start : start + size]
        items: list[dict[str, Any]] = []
        current: Article | None = None
        stream = (
            catalogue.variations(chosen.start, chosen.stop)
            if isinstance(chosen, range)
            else (catalogue.variation(i) for i in chosen)
        )
        for v in stream:
            if current is None or current.index != v.article_index:
                current = catalogue.article(v.article_index)
            items.append(variation_json(v, current))
        return envelope(page, size, len(indices), items)

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
        version = catalogue.image_version((int(ecc) - ECC_BASE) // 10)
        return Response(catalogue.image_bytes(ecc, position, version), mimetype="image/png")

    return bp
