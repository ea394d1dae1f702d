"""The PlentyONE REST answers the connector reads, as marshmallow schemas.

Field names are PlentyONE's own (camelCase), so a loaded answer reads like the API
documentation. Only what the connector relies on is declared; other fields are dropped
(`unknown = EXCLUDE`), and a declared field that is required and missing, or of the wrong
type, is a contract breach the client reports by name. Relations asked for with `with=`
are declared but not required: they are absent unless requested.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, pre_load


class Answer(Schema):
    class Meta:
        unknown = EXCLUDE


def _list(schema: type[Schema]) -> fields.List:
    return fields.List(fields.Nested(schema), allow_none=True)


def _loose() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Raw())


# --- authentication -------------------------------------------------------------------------


class TokenSchema(Answer):
    """`POST /rest/login` answers snake_case; `/rest/login/refresh` is documented camelCase."""

    access_token = fields.String(required=True)
    refresh_token = fields.String(load_default=None, allow_none=True)
    token_type = fields.String(load_default="Bearer")
    expires_in = fields.Integer(load_default=86_400)

    @pre_load
    def _snake(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            return data
        renamed = {
            "accessToken": "access_token",
            "refreshToken": "refresh_token",
            "tokenType": "token_type",
            "expiresIn": "expires_in",
        }
        out = dict(data)
        for camel, snake in renamed.items():
            if camel in out and snake not in out:
                out[snake] = out.pop(camel)
        return out


# --- catalogue ------------------------------------------------------------------------------


class VariationBarcodeSchema(Answer):
    barcodeId = fields.Integer(required=True)
    code = fields.String(required=True)
    variationId = fields.Integer()
    createdAt = fields.String(allow_none=True)


class VariationSalesPriceSchema(Answer):
    variationId = fields.Integer(required=True)
    salesPriceId = fields.Integer(required=True)
    price = fields.Float(required=True)
    updatedAt = fields.String(allow_none=True)


class VariationAttributeValueSchema(Answer):
    attributeId = fields.Integer(required=True)
    valueId = fields.Integer(required=True)
    variationId = fields.Integer()


class VariationPropertySchema(Answer):
    id = fields.Integer()
    propertyId = fields.Integer(required=True)
    variationId = fields.Integer()
    value = fields.Raw(allow_none=True)
    valueInt = fields.Integer(allow_none=True)
    valueFloat = fields.Float(allow_none=True)
    valueTexts = fields.List(_loose(), allow_none=True)
    propertySelectionId = fields.Integer(allow_none=True)


class VariationCategorySchema(Answer):
    variationId = fields.Integer()
    categoryId = fields.Integer(required=True)
    position = fields.Integer(allow_none=True)


class VariationStockSchema(Answer):
    """One warehouse's stock of a variation (`with=stock`)."""

    warehouseId = fields.Integer(required=True)
    variationId = fields.Integer()
    stockPhysical = fields.Float(load_default=0.0)
    stockNet = fields.Float(load_default=0.0)
    reservedStock = fields.Float(load_default=0.0)


class VariationImageSchema(Answer):
    id = fields.Integer()
    imageId = fields.Integer(required=True)
    itemId = fields.Integer()
    variationId = fields.Integer()


class VariationSchema(Answer):
    id = fields.Integer(required=True)
    itemId = fields.Integer(required=True)
    isMain = fields.Boolean()
    mainVariationId = fields.Integer(allow_none=True)
    number = fields.String(allow_none=True)
    externalId = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    isActive = fields.Boolean()
    createdAt = fields.String(allow_none=True)
    updatedAt = fields.String(allow_none=True)
    relatedUpdatedAt = fields.String(allow_none=True)
    # relations, present when asked for with `with=`
    variationBarcodes = _list(VariationBarcodeSchema)
    variationSalesPrices = _list(VariationSalesPriceSchema)
    variationAttributeValues = _list(VariationAttributeValueSchema)
    variationProperties = _list(VariationPropertySchema)
    properties = _list(VariationPropertySchema)
    variationCategories = _list(VariationCategorySchema)
    images = fields.List(_loose(), allow_none=True)
    stock = _list(VariationStockSchema)
    variationClients = fields.List(_loose(), allow_none=True)
    tags = fields.List(_loose(), allow_none=True)


class ItemSchema(Answer):
    id = fields.Integer(required=True)
    mainVariationId = fields.Integer(allow_none=True)
    itemType = fields.String(allow_none=True)
    createdAt = fields.String(allow_none=True)
    updatedAt = fields.String(allow_none=True)
    variations = _list(VariationSchema)


class BarcodeTypeSchema(Answer):
    id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    type = fields.String(allow_none=True)


class SalesPriceSchema(Answer):
    id = fields.Integer(required=True)
    type = fields.String(allow_none=True)
    position = fields.Integer(allow_none=True)
    names = fields.List(_loose(), allow_none=True)


class PropertySchema(Answer):
    id = fields.Integer(required=True)
    cast = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    position = fields.Integer(allow_none=True)
    names = fields.List(_loose(), allow_none=True)


class CategorySchema(Answer):
    id = fields.Integer(required=True)
    parentCategoryId = fields.Integer(allow_none=True)
    type = fields.String(allow_none=True)
    level = fields.Integer(allow_none=True)
    details = fields.List(_loose(), allow_none=True)


class AttributeSchema(Answer):
    id = fields.Integer(required=True)
    backendName = fields.String(required=True)
    position = fields.Integer(allow_none=True)


class AttributeValueSchema(Answer):
    id = fields.Integer(required=True)
    attributeId = fields.Integer(required=True)
    backendName = fields.String(required=True)
    position = fields.Integer(allow_none=True)


class TagSchema(Answer):
    id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    tagName = fields.String(allow_none=True)
    color = fields.String(allow_none=True)


class TagRelationshipSchema(Answer):
    tagId = fields.Integer(required=True)
    type = fields.String(allow_none=True)
    tagType = fields.String(allow_none=True)
    value = fields.Raw(allow_none=True)
    relationshipValue = fields.Raw(allow_none=True)


class ItemImageSchema(Answer):
    id = fields.Integer(required=True)
    itemId = fields.Integer(required=True)
    position = fields.Integer(allow_none=True)
    url = fields.String(allow_none=True)
    md5Checksum = fields.String(allow_none=True)
    md5ChecksumOriginal = fields.String(allow_none=True)


class WarehouseSchema(Answer):
    id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    typeId = fields.Integer(allow_none=True)


# --- orders ---------------------------------------------------------------------------------


class OrderPropertySchema(Answer):
    typeId = fields.Integer(required=True)
    value = fields.Raw(allow_none=True)
    orderId = fields.Integer()


class OrderItemSchema(Answer):
    id = fields.Integer(required=True)
    orderId = fields.Integer()
    typeId = fields.Integer(required=True)
    itemVariationId = fields.Integer(allow_none=True)
    quantity = fields.Float(required=True)
    orderItemName = fields.String(allow_none=True)
    referrerId = fields.Float(allow_none=True)
    warehouseId = fields.Integer(allow_none=True)
    amounts = fields.List(_loose(), allow_none=True)
    properties = fields.List(_loose(), allow_none=True)
    variationBarcodes = fields.List(_loose(), allow_none=True)
    variation = fields.Dict(allow_none=True)


class OrderShippingPackageSchema(Answer):
    id = fields.Integer(required=True)
    orderId = fields.Integer()
    packageId = fields.Integer(allow_none=True)
    packageNumber = fields.String(allow_none=True)
    createdAt = fields.String(allow_none=True)


class OrderSchema(Answer):
    id = fields.Integer(required=True)
    typeId = fields.Integer(required=True)
    statusId = fields.Float(required=True)
    statusName = fields.String(allow_none=True)
    referrerId = fields.Float(allow_none=True)
    plentyId = fields.Integer(allow_none=True)
    ownerId = fields.Integer(allow_none=True)
    locationId = fields.Integer(allow_none=True)
    createdAt = fields.String(allow_none=True)
    updatedAt = fields.String(allow_none=True)
    # relations
    orderItems = _list(OrderItemSchema)
    properties = _list(OrderPropertySchema)
    addresses = fields.List(_loose(), allow_none=True)
    addressRelations = fields.List(_loose(), allow_none=True)
    relations = fields.List(_loose(), allow_none=True)
    amounts = fields.List(_loose(), allow_none=True)
    dates = fields.List(_loose(), allow_none=True)
    shippingPackages = _list(OrderShippingPackageSchema)


class OrderStatusSchema(Answer):
    statusId = fields.Float(required=True)
    names = fields.Raw(allow_none=True)
    color = fields.String(allow_none=True)


class OrderReferrerSchema(Answer):
    id = fields.Float(required=True)
    name = fields.String(allow_none=True)
    backendName = fields.String(allow_none=True)
    isEditable = fields.Boolean(allow_none=True)


class ReturnReasonSchema(Answer):
    id = fields.Integer(required=True)
    reason = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    names = fields.Raw(allow_none=True)


# --- envelopes ------------------------------------------------------------------------------


class Entries(fields.List):
    """A page's `entries`: a JSON array, or (where the description types it as an object,
    as PHP serialises a keyed list) an object `{"0": {...}, "1": {...}}` read in key order."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, dict):
            try:
                ordered = sorted(value.items(), key=lambda kv: int(kv[0]))
            except (TypeError, ValueError):
                ordered = list(value.items())
            value = [v for _, v in ordered]
        return super()._deserialize(value, attr, data, **kwargs)


class PageSchema(Answer):
    """The pagination envelope; `entries` stay raw and are loaded per entry schema."""

    page = fields.Integer(required=True)
    totalsCount = fields.Integer(load_default=None, allow_none=True)
    isLastPage = fields.Boolean(required=True)
    lastPageNumber = fields.Integer(load_default=None, allow_none=True)
    firstOnPage = fields.Integer(load_default=None, allow_none=True)
    lastOnPage = fields.Integer(load_default=None, allow_none=True)
    itemsPerPage = fields.Integer(load_default=None, allow_none=True)
    entries = Entries(fields.Raw(), required=True)


_PAGE_SCHEMAS: dict[type[Schema], type[Schema]] = {}


def page_of(entry: type[Schema]) -> type[Schema]:
    """An envelope schema whose `entries` are loaded with `entry` (built once per type)."""
    cached = _PAGE_SCHEMAS.get(entry)
    if cached is None:
        cached = type(
            f"{entry.__name__.removesuffix('Schema')}PageSchema",
            (PageSchema,),
            {"entries": Entries(fields.Nested(entry), required=True)},
        )
        _PAGE_SCHEMAS[entry] = cached
    return cached
