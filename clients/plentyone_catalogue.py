"""PlentyONE's catalogue routes: items, variations, barcodes, prices, properties, categories,
attributes, tags, images and stock. The catalogue sync calls nothing else of PlentyONE."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from marshmallow import Schema

from clients.answers import load
from clients.errors import Unprocessable
from clients.plentyone_base import (
    MAX_PER_PAGE,
    PlentyOneBase,
    chunks,
    drop_none,
    schema_of,
    with_param,
)
from schemas.catalogue_views import CurrentVariationView, IdView, LinkVariationView
from schemas.plentyone import (
    AttributeSchema,
    AttributeValueSchema,
    BarcodeTypeSchema,
    CategorySchema,
    ItemImageSchema,
    ItemSchema,
    PropertySchema,
    SalesPriceSchema,
    TagRelationshipSchema,
    TagSchema,
    VariationBarcodeSchema,
    VariationImageSchema,
    VariationSalesPriceSchema,
    VariationSchema,
    WarehouseSchema,
    page_of,
)

PRICES = "/rest/items/variations/variation_sales_prices"


class CatalogueRoutes(PlentyOneBase):
    # --- items and variations ---------------------------------------------------------------

    def create_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /rest/items`, with its first variation in `variations[]`."""
        return dict(self.call("POST", "/rest/items", json=dict(item), schema=ItemSchema))

    def add_variation(self, item_id: int, variation: Mapping[str, Any]) -> dict[str, Any]:
        return dict(
            self.call(
                "POST",
                f"/rest/items/{int(item_id)}/variations",
                json=dict(variation),
                schema=VariationSchema,
            )
        )

    def variations(
        self,
        *,
        ids: Sequence[int] | None = None,
        number_exact: str | None = None,
        barcode: str | None = None,
        variation_tag_id: int | None = None,
        item_id: int | None = None,
        updated_between: str | None = None,
        is_active: bool | None = None,
        with_: Sequence[str] | None = None,
        items_per_page: int = MAX_PER_PAGE,
    ) -> Iterator[dict[str, Any]]:
        """`GET /rest/items/variations` with its filters; `with_` e.g. ("variationBarcodes",)."""
        params = {
            "id": ",".join(str(int(i)) for i in ids) if ids else None,
            "numberExact": number_exact,
            "barcode": barcode,
            "variationTagId": variation_tag_id,
            "itemId": item_id,
            "updatedBetween": updated_between,
            "isActive": None if is_active is None else str(is_active).lower(),
            "with": with_param(with_),
        }
        return self.pages(
            "/rest/items/variations", VariationSchema, params, items_per_page=items_per_page
        )

    def variation_by_number(
        self, number: str, with_: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        return next(iter(self.variations(number_exact=number, with_=with_)), None)

    def variation_by_barcode(
        self, code: str, with_: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        return next(iter(self.variations(barcode=code, with_=with_)), None)

    def item_variations(
        self, item_id: int, with_: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        return self.pages(
            f"/rest/items/{int(item_id)}/variations", VariationSchema, {"with": with_param(with_)}
        )

    def update_variations(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """`PUT /rest/items/variations`, each record with `id` (and `itemId`), 50 per call."""
        return self._bulk("PUT", "/rest/items/variations", records)

    def _variation_page(
        self, params: Mapping[str, Any], view: type[Schema], page: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of `GET /rest/items/variations` (250 a page): its entries, whether last."""
        env = self.call(
            "GET",
            "/rest/items/variations",
            params={**params, "page": page, "itemsPerPage": MAX_PER_PAGE},
            schema=page_of(view),
        )
        return list(env["entries"]), bool(env["isLastPage"])

    def touched_variations_page(self, since: str, page: int) -> tuple[list[int], bool]:
        """Ids of the variations whose data PlentyONE changed since `since` (ISO 8601)."""
        entries, last = self._variation_page({"relatedUpdatedBetween": since}, IdView, page)
        return [int(v["id"]) for v in entries], last

    def variation_links_page(self, page: int) -> tuple[list[dict[str, Any]], bool]:
        """A page of every variation with what matching needs: ids, number, barcodes."""
        return self._variation_page({"with": "variationBarcodes"}, LinkVariationView, page)

    def tagged_variations_page(self, tag_id: int, page: int) -> tuple[list[dict[str, Any]], bool]:
        """A page of the variations carrying a tag, with their barcodes."""
        params = {"variationTagId": tag_id, "with": "variationBarcodes"}
        return self._variation_page(params, VariationSchema, page)

    def stock_and_prices(self, variation_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Stock per warehouse and sales prices of these variations (250 a read), by id."""
        out: dict[int, dict[str, Any]] = {}
        for batch in chunks(variation_ids, MAX_PER_PAGE):
            ids = ",".join(str(int(i)) for i in batch)
            params = {"id": ids, "with": "stock,variationSalesPrices"}
            entries, _last = self._variation_page(params, CurrentVariationView, 1)
            out.update((int(v["id"]), v) for v in entries)
        return out

    def variation_stock(self, variation_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Current stock per warehouse of the given variations (`with=stock`)."""
        out: dict[int, list[dict[str, Any]]] = {int(v): [] for v in variation_ids}
        for batch in chunks(variation_ids, MAX_PER_PAGE):
            for variation in self.variations(ids=batch, with_=("stock",)):
                out[variation["id"]] = list(variation.get("stock") or [])
        return out

    # --- barcodes ---------------------------------------------------------------------------

    def barcode_types(self) -> list[dict[str, Any]]:
        return list(self.pages("/rest/items/barcodes", BarcodeTypeSchema))

    def variation_barcodes(self, item_id: int, variation_id: int) -> list[dict[str, Any]]:
        path = f"/rest/items/{int(item_id)}/variations/{int(variation_id)}/variation_barcodes"
        return list(self.call("GET", path, schema=VariationBarcodeSchema, many=True))

    def add_variation_barcode(
        self, item_id: int, variation_id: int, barcode_id: int, code: str
    ) -> dict[str, Any]:
        path = f"/rest/items/{int(item_id)}/variations/{int(variation_id)}/variation_barcodes"
        body = {"barcodeId": int(barcode_id), "variationId": int(variation_id), "code": code}
        return dict(self.call("POST", path, json=body, schema=VariationBarcodeSchema))

    # --- sales prices -----------------------------------------------------------------------

    def sales_prices(self) -> list[dict[str, Any]]:
        return list(self.pages("/rest/items/sales_prices", SalesPriceSchema))

    def variation_sales_prices(
        self, *, variation_id: int | None = None, sales_price_id: int | None = None
    ) -> Iterator[dict[str, Any]]:
        return self.pages(
            "/rest/items/variations/variation_sales_prices",
            VariationSalesPriceSchema,
            {"variationId": variation_id, "salesPriceId": sales_price_id},
        )

    def set_variation_sales_prices(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """`PUT .../variation_sales_prices`: `{variationId, salesPriceId, price}`, 50 per call."""
        return self._bulk("PUT", PRICES, records)

    def create_variation_sales_prices(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        return self._bulk("POST", PRICES, records)

    def save_variation_sales_prices(
        self, existing: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
    ) -> None:
        """Update the prices PlentyONE has (PUT), create the ones it lacks (POST).

        What the caller knows of PlentyONE can be stale (a price made by hand, or one it
        stopped writing): a POST answered "already has" is not a failure but an update. The
        batch's prices are read once and each record goes where it belongs, so one stale
        record costs one read and one write, never the batch.
        """
        self._bulk("PUT", PRICES, existing)
        for batch in chunks(new):
            try:
                self.call("POST", PRICES, json=batch, expect_body=False)
            except Unprocessable as exc:
                if not _already_has(exc):
                    raise
                have = self.stock_and_prices(sorted({int(r["variationId"]) for r in batch}))
                made = {
                    (vid, int(p["salesPriceId"]))
                    for vid, variation in have.items()
                    for p in variation.get("variationSalesPrices") or []
                }
                update = [r for r in batch if _price_key(r) in made]
                if not update:
                    raise  # it was about something else: the records are as we thought
                create = [r for r in batch if _price_key(r) not in made]
                self.call("PUT", PRICES, json=update, expect_body=False)
                if create:
                    self.call("POST", PRICES, json=create, expect_body=False)

    # --- properties, categories, attributes, tags -------------------------------------------

    def properties(self) -> list[dict[str, Any]]:
        return self._collection("/rest/properties", PropertySchema)

    def set_variation_properties(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        return self._bulk("PUT", "/rest/items/variations/variation_properties", records)

    def create_variation_properties(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        return self._bulk("POST", "/rest/items/variations/variation_properties", records)

    def categories(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """`GET /rest/categories`; filters as documented (`type`, `parentId`, `name`, ...)."""
        return self.pages("/rest/categories", CategorySchema, filters)

    def create_category(self, category: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`POST /rest/categories` answers the created categories as a list."""
        answer = self.call("POST", "/rest/categories", json=dict(category))
        rows = answer if isinstance(answer, list) else [answer]
        return list(load(schema_of(CategorySchema), rows, many=True, call="POST /rest/categories"))

    def link_variation_categories(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """`POST .../variation_categories`: `{variationId, categoryId}`, 50 per call."""
        return self._bulk("POST", "/rest/items/variations/variation_categories", records)

    def attributes(self) -> list[dict[str, Any]]:
        return list(self.pages("/rest/items/attributes", AttributeSchema))

    def create_attribute(self, backend_name: str, position: int = 0) -> dict[str, Any]:
        body = {"backendName": backend_name, "position": position}
        return dict(self.call("POST", "/rest/items/attributes", json=body, schema=AttributeSchema))

    def attribute_values(self, attribute_id: int) -> list[dict[str, Any]]:
        path = f"/rest/items/attributes/{int(attribute_id)}/values"
        return list(self.pages(path, AttributeValueSchema))

    def create_attribute_value(
        self, attribute_id: int, backend_name: str, position: int = 0
    ) -> dict[str, Any]:
        path = f"/rest/items/attributes/{int(attribute_id)}/values"
        body = {"backendName": backend_name, "position": position}
        return dict(self.call("POST", path, json=body, schema=AttributeValueSchema))

    def tags(self) -> list[dict[str, Any]]:
        return self._collection("/rest/tags", TagSchema)

    def create_tag(self, name: str, color: str | None = None) -> dict[str, Any]:
        body = drop_none({"tagName": name, "color": color})
        return dict(self.call("POST", "/rest/tags", json=body, schema=TagSchema))

    def tag_relationships(
        self, *, tag_id: int | None = None, tag_type: str | None = "variation"
    ) -> list[dict[str, Any]]:
        return self._collection(
            "/rest/tags/relationships",
            TagRelationshipSchema,
            drop_none({"tagId": tag_id, "tagType": tag_type}),
        )

    def tag_variation(self, tag_id: int, variation_id: int) -> dict[str, Any]:
        body = {"tagId": int(tag_id), "tagType": "variation", "relationshipValue": variation_id}
        return dict(
            self.call("POST", "/rest/tags/relationships", json=body, schema=TagRelationshipSchema)
        )

    # --- images -----------------------------------------------------------------------------

    def upload_image(
        self,
        item_id: int,
        *,
        upload_url: str | None = None,
        image_data_base64: str | None = None,
        file_type: str = "png",
        position: int = 0,
        file_name: str | None = None,
        names: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """`POST /rest/items/{id}/images/upload` from a URL or base64 bytes."""
        if (upload_url is None) == (image_data_base64 is None):
            raise ValueError("give exactly one of upload_url and image_data_base64")
        body = drop_none(
            {
                "itemId": int(item_id),
                "uploadUrl": upload_url,
                "uploadImageData": image_data_base64,
                "fileType": file_type,
                "uploadFileName": file_name,
                "position": position,
                "names": list(names) if names else None,
            }
        )
        path = f"/rest/items/{int(item_id)}/images/upload"
        return dict(self.call("POST", path, json=body, schema=ItemImageSchema))

    def link_variation_image(
        self, item_id: int, variation_id: int, image_id: int
    ) -> dict[str, Any]:
        path = f"/rest/items/{int(item_id)}/variations/{int(variation_id)}/variation_images"
        body = {"imageId": int(image_id), "itemId": int(item_id), "variationId": int(variation_id)}
        return dict(self.call("POST", path, json=body, schema=VariationImageSchema))

    def variation_images(self, item_id: int, variation_id: int) -> list[dict[str, Any]]:
        path = f"/rest/items/{int(item_id)}/variations/{int(variation_id)}/variation_images"
        raw = self.call("GET", path)
        rows = raw if isinstance(raw, list) else raw.get("entries", [raw]) if raw else []
        return list(load(schema_of(VariationImageSchema), rows, many=True, call=f"GET {path}"))

    # --- stock ------------------------------------------------------------------------------

    def warehouses(self) -> list[dict[str, Any]]:
        return self._collection("/rest/stockmanagement/warehouses", WarehouseSchema)

    def correct_stock(self, warehouse_id: int, corrections: Iterable[Mapping[str, Any]]) -> int:
        """Set absolute quantities: `{variationId, quantity, storageLocationId, reasonId}`.

        Sent 50 corrections per call; returns the number sent.
        """
        path = f"/rest/stockmanagement/warehouses/{int(warehouse_id)}/stock/correction"
        sent = 0
        for batch in chunks(corrections):
            self.call("PUT", path, json={"corrections": batch}, expect_body=False)
            sent += len(batch)
        return sent


def _already_has(exc: Unprocessable) -> bool:
    """PlentyONE refused to create a price because the variation has it already."""
    return exc.code == "duplicate_sales_price" or "already has" in exc.message


def _price_key(record: Mapping[str, Any]) -> tuple[int, int]:
    return int(record["variationId"]), int(record["salesPriceId"])
