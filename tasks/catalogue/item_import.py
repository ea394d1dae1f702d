"""Item import: SPoCC articles become PlentyONE items with their variations, inactive.

Each variation gets its SPoCC ID as variation number and as a barcode of the configured
"SPoCC ID" type, plus its EAN, its colour and size attribute values and the mapped category
(unmapped product groups → the default category). A variation PlentyONE already has — ours,
or made by hand and carrying the SPoCC-ID barcode — is linked, never created again, so a
second import run creates nothing. Unit: a few articles; the run counts articles (pushed: an
article that got variations; unchanged: one PlentyONE had whole), the variations made are in
each unit's `detail`.
"""

from __future__ import annotations

from typing import Any

from clients.errors import Unprocessable
from clients.spocc import CONTENT
from schemas.spocc import ArticleSchema
from store.models import SyncRun
from tasks.catalogue import links, plenty_ids, rules
from tasks.catalogue.context import Context
from tasks.catalogue.process import Page, SpoccListing, Work
from tasks.catalogue.runs import UnitResult

SAMPLE = 20


class ItemImport:
    name = "item_import"
    unit_size = 10
    link_scan = True

    def __init__(self) -> None:
        self.listing = SpoccListing(CONTENT, "/articles", ArticleSchema, "articleNumber", 100)

    def page(self, ctx: Context, run: SyncRun, page: int) -> Page:
        only = run.options.get("variation")
        if only:
            return Page(keys=[str(ctx.spocc.variation(str(only))["articleNumber"])], last=True)
        return self.listing.page(ctx, run, page)

    def push(self, work: Work) -> UnitResult:
        result = UnitResult()
        for article_number in work.keys:
            article = work.ctx.spocc.article(article_number)
            _import_article(work, article, result)
        return result


def _variations(article: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(colour, v) for colour in article["colours"] for v in colour["variations"]]


def _import_article(work: Work, article: dict[str, Any], result: UnitResult) -> None:
    ctx = work.ctx
    conn = ctx.conn
    settings = conn.mappings.item_import
    group = (article.get("productGroup") or {}).get("id")
    pairs = _variations(article)
    if rules.blocked(conn, group):
        result.skipped += 1
        return
    spocc_ids = [v["spoccId"] for _, v in pairs]
    # after this run's link scan the table knows every variation PlentyONE had at its start
    if work.run.options.get("linked"):
        with work.db() as session:
            known = links.links_for(session, ctx.id, spocc_ids)
    else:
        known = links.resolve(ctx.plenty, ctx.id, spocc_ids, settings.spocc_id_barcode_type_id)
    for link in known.values():
        if link.article_number is None or link.product_group_id is None:
            link.article_number, link.product_group_id = article["articleNumber"], group
            links.describe(ctx.id, link.spocc_id, link.article_number, group)
    missing = [(c, v) for c, v in pairs if v["spoccId"] not in known]
    if not missing:
        result.unchanged += 1
        return
    if work.dry_run:
        result.pushed += 1
        _count(result, len(missing))
        sample = result.detail.setdefault("would_create", [])
        sample.extend(v["spoccId"] for _, v in missing[: SAMPLE - len(sample)])
        return
    category = (
        conn.mappings.categories.get(group, settings.default_category_id)
        if group
        else (settings.default_category_id)
    )
    specs = [_spec(ctx, article, colour, v, category) for colour, v in missing]
    item_id = next((link.item_id for link in known.values()), None)
    try:
        if item_id is None:
            item = ctx.plenty.create_item(
                {
                    "texts": [{"lang": "de", "name1": article["name"]}],
                    "free1": article["articleNumber"],
                    "variations": specs,
                }
            )
            made = list(item.get("variations") or [])
            item_id = int(item["id"])
        else:
            made = [ctx.plenty.add_variation(item_id, spec) for spec in specs]
    except Unprocessable:
        # already there (a redelivered unit raced its first run): link what PlentyONE has
        found = links.resolve(
            ctx.plenty,
            ctx.id,
            [v["spoccId"] for _, v in missing],
            settings.spocc_id_barcode_type_id,
        )
        if len(found) < len(missing):
            raise
        result.unchanged += 1
        return
    with work.db() as session:
        for variation in made:
            spocc_id = str(variation.get("number"))
            links.save_link(
                session, ctx.id, spocc_id, variation["id"], item_id, article["articleNumber"], group
            )
    result.pushed += 1
    _count(result, len(made))


def _count(result: UnitResult, created: int) -> None:
    result.detail["variations_created"] = result.detail.get("variations_created", 0) + created


def _spec(
    ctx: Context,
    article: dict[str, Any],
    colour: dict[str, Any],
    v: dict[str, Any],
    category: int,
) -> dict[str, Any]:
    settings = ctx.conn.mappings.item_import
    barcodes = [{"barcodeId": settings.spocc_id_barcode_type_id, "code": v["spoccId"]}]
    if v.get("ean"):
        barcodes.append({"barcodeId": settings.ean_barcode_type_id, "code": v["ean"]})
    spec: dict[str, Any] = {
        "number": v["spoccId"],
        "externalId": v["spoccId"],
        "model": article["articleNumber"],
        "name": f"{article['name']} {colour['colourName']} {v['size']}",
        "isActive": False,
        "variationBarcodes": barcodes,
        "variationCategories": [{"categoryId": category}],
        "variationAttributeValues": [
            {
                "attributeId": settings.colour_attribute_id,
                "valueId": plenty_ids.attribute_value(
                    ctx, settings.colour_attribute_id, colour["colourName"]
                ),
            },
            {
                "attributeId": settings.size_attribute_id,
                "valueId": plenty_ids.attribute_value(ctx, settings.size_attribute_id, v["size"]),
            },
        ],
    }
    if settings.plenty_client_id is not None:
        spec["variationClients"] = [{"plentyId": settings.plenty_client_id}]
    return spec
