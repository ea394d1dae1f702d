"""The `mappings` section of a connection in the configuration file: item import settings,
sales prices and the rows that map SPoCC's ids to PlentyONE's (properties, categories,
warehouses, markets, return reasons, order statuses). A row mapped twice is an error that
names both rows."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validates_schema

from schemas.connection import ItemImport, Mappings, SalesPrices, WarehouseMap, referrer_key
from schemas.ids import DecimalId, integer_id


class Strict(Schema):
    """A section of the file: an unknown key is an error, never ignored (a typo is caught)."""

    class Meta:
        unknown = RAISE


DEFAULT_STATUSES: dict[str, str | None] = {
    "handed_over": "5.1",
    "registration_failed": "6.1",
    "bad_address": "6.2",
    "not_enough_stock": "6.3",
    "shipped": "7",
    "cancellation_requested": "8",
    "cancelled": "8.8",
    "cancel_refused": None,  # None: leave the status, record the cause on the order row
    "return_registered": "9",
}


class ItemImportSchema(Strict):
    complete_import = fields.Boolean(load_default=True)
    extended_data_tag_id = integer_id(load_default=None, allow_none=True)
    default_category_id = integer_id(required=True)
    ean_barcode_type_id = integer_id(required=True)
    spocc_id_barcode_type_id = integer_id(required=True)
    colour_attribute_id = integer_id(required=True)
    size_attribute_id = integer_id(required=True)
    plenty_client_id = integer_id(load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ItemImport:
        return ItemImport(**data)


class SalesPricesSchema(Strict):
    retail = integer_id(required=True)
    target = integer_id(load_default=None, allow_none=True)
    recommended_retail = integer_id(load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SalesPrices:
        return SalesPrices(**data)


class PropertyRowSchema(Strict):
    spocc_attribute_id = integer_id(required=True)
    property_id = integer_id(required=True)


class CategoryRowSchema(Strict):
    product_group_id = integer_id(required=True)
    category_id = integer_id(required=True)


class WarehouseRowSchema(Strict):
    channel_store = integer_id(required=True)
    warehouse_id = integer_id(required=True)
    storage_location_id = integer_id(load_default=0)
    reason_id = integer_id(load_default=301, minimum=301)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> WarehouseMap:
        return WarehouseMap(**data)


class MarketRowSchema(Strict):
    plenty_referrer_id = DecimalId(required=True)
    spocc_referrer_id = integer_id(required=True)


class ReturnReasonRowSchema(Strict):
    plenty_reason_id = integer_id(required=True)
    spocc_reason_id = integer_id(required=True)


def _status_field() -> DecimalId:
    return DecimalId(allow_none=True, maximum=1000)


def status_text(value: float | None) -> str | None:
    """An order status as the rest of the connector spells it: 5.1 → "5.1", 7.0 → "7"."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class OrderStatusesSchema(Strict):
    handed_over = _status_field()
    registration_failed = _status_field()
    bad_address = _status_field()
    not_enough_stock = _status_field()
    shipped = _status_field()
    cancellation_requested = _status_field()
    cancelled = _status_field()
    cancel_refused = _status_field()
    return_registered = _status_field()


def unique_rows(rows: list[Any], key: str, what: str, path: str) -> dict[str, Any]:
    errors: dict[str | int, Any] = {}
    seen: dict[Any, int] = {}
    for i, row in enumerate(rows):
        value = row[key] if isinstance(row, dict) else getattr(row, key)
        if value in seen:
            errors[i] = {key: [f"{what} {value!r} is mapped twice (also row {seen[value]})"]}
        seen.setdefault(value, i)
    return {path: errors} if errors else {}


class MappingsSchema(Strict):
    item_import = fields.Nested(ItemImportSchema, required=True)
    sales_prices = fields.Nested(SalesPricesSchema, required=True)
    properties = fields.List(fields.Nested(PropertyRowSchema), load_default=list)
    categories = fields.List(fields.Nested(CategoryRowSchema), load_default=list)
    warehouses = fields.List(fields.Nested(WarehouseRowSchema), load_default=list)
    markets = fields.List(fields.Nested(MarketRowSchema), load_default=list)
    return_reasons = fields.List(fields.Nested(ReturnReasonRowSchema), load_default=list)
    order_statuses = fields.Nested(OrderStatusesSchema, load_default=dict)

    @validates_schema(skip_on_field_errors=True)
    def no_row_twice(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        errors |= unique_rows(data["warehouses"], "channel_store", "channel store", "warehouses")
        errors |= unique_rows(data["categories"], "product_group_id", "product group", "categories")
        errors |= unique_rows(data["properties"], "spocc_attribute_id", "attribute", "properties")
        errors |= unique_rows(data["markets"], "plenty_referrer_id", "referrer", "markets")
        errors |= unique_rows(data["return_reasons"], "plenty_reason_id", "reason",
                              "return_reasons")
        if errors:
            raise ValidationError(errors)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Mappings:
        return Mappings(
            item_import=data["item_import"],
            sales_prices=data["sales_prices"],
            properties={r["spocc_attribute_id"]: r["property_id"] for r in data["properties"]},
            categories={r["product_group_id"]: r["category_id"] for r in data["categories"]},
            warehouses=data["warehouses"],
            markets={
                referrer_key(r["plenty_referrer_id"]): r["spocc_referrer_id"]
                for r in data["markets"]
            },
            return_reasons={
                r["plenty_reason_id"]: r["spocc_reason_id"] for r in data["return_reasons"]
            },
            order_statuses={**DEFAULT_STATUSES, **{
                outcome: status_text(status) for outcome, status in data["order_statuses"].items()
            }},
        )
