"""Images and extended item data.

*images* (hourly, delta): a variation whose images changed gets them uploaded to its item
(once per colour and position and content hash: an unchanged image is never uploaded again)
and linked to it.
*extended data* (hourly): variations carrying the configured tag in PlentyONE get their EAN
barcode, their mapped properties (SPoCC attribute → PlentyONE property, the value's name as
text) and their images. A variation whose content hashes like its last push is skipped.
"""

from __future__ import annotations

from typing import Any

from clients.errors import PermanentError
from clients.plentyone import MAX_PER_PAGE, chunks
from clients.spocc import CONTENT
from schemas.spocc import VariationSchema as SpoccVariationSchema
from store.catalogue_models import CatalogueLink
from store.models import SyncRun
from tasks.catalogue import links, plenty_ids, rules, state
from tasks.catalogue.context import Context
from tasks.catalogue.process import Page, SplitUnit, SpoccListing, Work, named_keys
from tasks.catalogue.runs import UnitResult

IMAGES = "images"
EXTENDED = "extended"


def _linked(work: Work) -> dict[str, CatalogueLink]:
    return links.resolve(
        work.ctx.plenty,
        work.ctx.id,
        work.keys,
        work.ctx.conn.mappings.item_import.spocc_id_barcode_type_id,
    )


def _images_digest(variation: dict[str, Any]) -> str:
    return rules.values_hash(
        {str(i["position"]): i["contentHash"] for i in variation.get("images") or []}
    )


def push_images(ctx: Context, link: CatalogueLink, variation: dict[str, Any]) -> int:
    """Upload what is new, link what is not linked; answers how many images were uploaded."""
    uploaded = 0
    ecc = variation["eccVariationNumber"]
    for image in variation.get("images") or []:
        position = int(image["position"])

        def upload(image: dict[str, Any] = image, position: int = position) -> int:
            made = ctx.plenty.upload_image(
                link.item_id,
                upload_url=image["url"],
                position=position,
                file_name=f"{ecc}-{position}.png",
            )
            return int(made["id"])

        # "sha256:<64 hex>": the digest alone is the version
        version = str(image["contentHash"]).rsplit(":", 1)[-1][:64]
        image_id, made = plenty_ids.once(
            ctx, "image", f"{link.item_id}:{ecc}:{position}", version, upload
        )
        uploaded += made

        def link_it(image_id: int = image_id) -> int:
            ctx.plenty.link_variation_image(link.item_id, link.variation_id, image_id)
            return image_id

        plenty_ids.once(
            ctx, "image_link", f"{link.variation_id}:{position}", str(image_id), link_it
        )
    return uploaded


class Images:
    name = "images"
    unit_size = 50
    link_scan = False

    def __init__(self) -> None:
        self.listing = SpoccListing(CONTENT, "/variations", SpoccVariationSchema, "spoccId")

    def page(self, ctx: Context, run: SyncRun, page: int) -> Page:
        only = run.options.get("variation")
        if only:
            return Page(keys=[str(only)], last=True)
        return self.listing.page(ctx, run, page)

    def push(self, work: Work) -> UnitResult:
        ctx = work.ctx
        result = UnitResult()
        found = _linked(work)
        result.skipped += len(set(work.keys) - set(found))
        with work.db() as session:
            pushed = state.hashes(session, ctx.id, IMAGES, found)
        for spocc_id, link in found.items():
            variation = ctx.spocc.variation(spocc_id)
            digest = _images_digest(variation)
            if pushed.get(spocc_id) == digest:
                result.unchanged += 1
                continue
            if work.dry_run:
                result.pushed += 1
                continue
            push_images(ctx, link, variation)
            with work.db() as session:
                state.save(session, ctx.id, IMAGES, spocc_id, digest)
            result.pushed += 1
        return result


class ExtendedData:
    name = "extended_data"
    unit_size = 50
    link_scan = False

    def page(self, ctx: Context, run: SyncRun, page: int) -> Page:
        tag = ctx.conn.mappings.item_import.extended_data_tag_id
        only = run.options.get("variation")
        if only:
            return Page(keys=[str(only)], last=True)
        if tag is None:
            return Page(keys=[], last=True)
        entries, last = ctx.plenty.tagged_variations_page(tag, page)
        barcode = ctx.conn.mappings.item_import.spocc_id_barcode_type_id
        keys = [links.spocc_id_of(v, barcode) for v in entries]
        return Page(keys=sorted(k for k in keys if k), last=last)

    def push(self, work: Work) -> UnitResult:
        ctx = work.ctx
        conn = ctx.conn
        result = UnitResult()
        found = _linked(work)
        result.skipped += len(set(work.keys) - set(found))
        value_names = {
            int(v["id"]): str(v["name"]) for a in ctx.spocc.attributes() for v in a["values"]
        }
        with work.db() as session:
            pushed = state.hashes(session, ctx.id, EXTENDED, found)
        todo: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {}
        for spocc_id in found:
            variation = ctx.spocc.variation(spocc_id)
            wanted = {
                "ean": variation.get("ean"),
                "properties": {
                    str(conn.mappings.properties[a["attributeId"]]): value_names.get(
                        a["valueId"], str(a["valueId"])
                    )
                    for a in variation.get("attributes") or []
                    if a["attributeId"] in conn.mappings.properties
                },
                "images": _images_digest(variation),
            }
            digest = rules.values_hash(wanted)
            if pushed.get(spocc_id) == digest:
                result.unchanged += 1
                continue
            todo[spocc_id] = (variation, wanted, digest)
        if work.dry_run:
            result.pushed += len(todo)
            return result
        current = _current(ctx, [found[s].variation_id for s in todo])
        properties: list[dict[str, Any]] = []
        try:
            for spocc_id, (variation, wanted, _digest) in todo.items():
                link = found[spocc_id]
                have = current.get(link.variation_id, {})
                ean_type = conn.mappings.item_import.ean_barcode_type_id
                codes = {(b["barcodeId"], b["code"]) for b in have.get("variationBarcodes") or []}
                if wanted["ean"] and (ean_type, wanted["ean"]) not in codes:
                    ctx.plenty.add_variation_barcode(
                        link.item_id, link.variation_id, ean_type, wanted["ean"]
                    )
                had = {
                    str(p["propertyId"]): _text(p) for p in have.get("variationProperties") or []
                }
                for property_id, value in wanted["properties"].items():
                    if had.get(property_id) != value:
                        properties.append(
                            {
                                "variationId": link.variation_id,
                                "propertyId": int(property_id),
                                "valueTexts": [{"lang": "de", "value": value}],
                            }
                        )
                push_images(ctx, link, variation)
            if properties:
                ctx.plenty.set_variation_properties(properties)
        except PermanentError as exc:
            if len(work.keys) > 1:
                by_variation = {found[s].variation_id: s for s in todo}
                raise SplitUnit(exc, culprits=named_keys(exc, by_variation)) from exc
            raise
        with work.db() as session:
            rows = state.load(session, ctx.id, EXTENDED, todo)
            for spocc_id, (_v, _w, digest) in todo.items():
                state.save(session, ctx.id, EXTENDED, spocc_id, digest, loaded=rows)
        result.pushed += len(todo)
        return result


def _text(prop: dict[str, Any]) -> str | None:
    texts = prop.get("valueTexts") or []
    return str(texts[0]["value"]) if texts else None


def _current(ctx: Context, variation_ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for batch in chunks(variation_ids, MAX_PER_PAGE):
        for variation in ctx.plenty.variations(
            ids=batch, with_=("variationBarcodes", "variationProperties")
        ):
            out[int(variation["id"])] = variation
    return out
