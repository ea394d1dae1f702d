"""The SPoCC API answers (docs/spocc-api.md), as marshmallow schemas.

Field names are SPoCC's (camelCase). Fields the contract says are always present are
required (nullable where it says so); unknown fields are dropped. Money arrives as decimal
strings and loads as `Decimal`; timestamps stay ISO strings (the connector stores and
compares them as the API sent them, e.g. `serverTime` as the next "changed since").
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields


class Answer(Schema):
    class Meta:
        unknown = EXCLUDE


def _money(*, required: bool = True, allow_none: bool = False) -> fields.Decimal:
    return fields.Decimal(required=required, allow_none=allow_none, as_string=False)


class IdValueSchema(Answer):
    attributeId = fields.Integer(required=True)
    valueId = fields.Integer(required=True)


class ImageSchema(Answer):
    position = fields.Integer(required=True)
    url = fields.String(required=True)
    contentHash = fields.String(required=True)
    version = fields.Integer(required=True)


class ProductGroupSchema(Answer):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ArticleVariationSchema(Answer):
    spoccId = fields.String(required=True)
    sizeNumber = fields.String(required=True)
    size = fields.String(required=True)
    ean = fields.String(required=True, allow_none=True)


class ColourSchema(Answer):
    eccVariationNumber = fields.String(required=True)
    colourCode = fields.String(required=True)
    colourName = fields.String(required=True)
    images = fields.List(fields.Nested(ImageSchema), required=True)
    variations = fields.List(fields.Nested(ArticleVariationSchema), required=True)


class ArticleSchema(Answer):
    articleNumber = fields.String(required=True)
    name = fields.String(required=True)
    brand = fields.String(required=True, allow_none=True)
    productGroup = fields.Nested(ProductGroupSchema, required=True, allow_none=True)
    attributes = fields.List(fields.Nested(IdValueSchema), required=True)
    colours = fields.List(fields.Nested(ColourSchema), required=True)
    changedAt = fields.String(required=True)


class VariationSchema(Answer):
    spoccId = fields.String(required=True)
    eccVariationNumber = fields.String(required=True)
    sizeNumber = fields.String(required=True)
    size = fields.String(required=True)
    ean = fields.String(required=True, allow_none=True)
    articleNumber = fields.String(required=True)
    name = fields.String(required=True)
    brand = fields.String(required=True, allow_none=True)
    colourCode = fields.String(required=True)
    colourName = fields.String(required=True)
    productGroupId = fields.Integer(required=True, allow_none=True)
    attributes = fields.List(fields.Nested(IdValueSchema), required=True)
    images = fields.List(fields.Nested(ImageSchema), required=True)
    changedAt = fields.String(required=True)


class NamedSchema(Answer):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class AttributeSchema(Answer):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    values = fields.List(fields.Nested(NamedSchema), required=True)


class ChannelStoreSchema(Answer):
    number = fields.Integer(required=True)
    name = fields.String(required=True)


class StoreStockSchema(Answer):
    channelStore = fields.Integer(required=True)
    onHand = fields.Integer(required=True)
    reserved = fields.Integer(required=True)
    available = fields.Integer(required=True)


class PricesSchema(Answer):
    retail = _money()
    target = _money(allow_none=True)
    recommendedRetail = _money(allow_none=True)
    currency = fields.String(required=True)


class StockSchema(Answer):
    spoccId = fields.String(required=True)
    eccVariationNumber = fields.String(required=True)
    articleNumber = fields.String(required=True)
    stock = fields.List(fields.Nested(StoreStockSchema), required=True)
    prices = fields.Nested(PricesSchema, required=True)
    changedAt = fields.String(required=True)


# --- transactions ---------------------------------------------------------------------------


class OrderLineSchema(Answer):
    lineNumber = fields.Integer(required=True)
    spoccId = fields.String(required=True)
    quantity = fields.Integer(required=True)
    price = _money()
    returnedQuantity = fields.Integer(required=True)


class ReservationLineSchema(Answer):
    spoccId = fields.String(required=True)
    channelStore = fields.Integer(required=True)
    quantity = fields.Integer(required=True)


class ReservationSchema(Answer):
    reservationId = fields.String(required=True)
    released = fields.Boolean(required=True)
    lines = fields.List(fields.Nested(ReservationLineSchema), required=True)


class TrackingSchema(Answer):
    trackingNumber = fields.String(required=True)
    carrier = fields.String(required=True)
    shippedAt = fields.String(load_default=None, allow_none=True)


class CancellationSchema(Answer):
    cancelledAt = fields.String(required=True)
    by = fields.String(required=True)
    reason = fields.String(load_default=None, allow_none=True)


class OrderSchema(Answer):
    spoccOrderId = fields.String(required=True)
    plentyOrderId = fields.Integer(required=True)
    status = fields.Integer(required=True)
    statusName = fields.String(required=True)
    channelStore = fields.Integer(required=True)
    referrerId = fields.Integer(required=True, allow_none=True)
    currency = fields.String(required=True)
    orderDate = fields.String(load_default=None, allow_none=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True)
    reservation = fields.Nested(ReservationSchema, required=True, allow_none=True)
    payments = fields.List(fields.Dict(), load_default=list)
    shippingDocuments = fields.List(fields.Dict(), load_default=list)
    returns = fields.List(fields.Dict(), load_default=list)
    tracking = fields.Nested(TrackingSchema, required=True, allow_none=True)
    cancellation = fields.Nested(CancellationSchema, required=True, allow_none=True)
    createdAt = fields.String(required=True)
    updatedAt = fields.String(required=True)


class OrderStatusSchema(Answer):
    spoccOrderId = fields.String(required=True)
    plentyOrderId = fields.Integer(required=True)
    status = fields.Integer(required=True)
    statusName = fields.String(required=True)
    trackingNumber = fields.String(required=True, allow_none=True)
    carrier = fields.String(required=True, allow_none=True)
    updatedAt = fields.String(required=True)


class PaymentAnswerSchema(Answer):
    paymentId = fields.String(required=True)
    order = fields.Nested(OrderSchema, required=True)


class ShippingDocumentsAnswerSchema(Answer):
    shippingDocumentsId = fields.String(required=True)
    order = fields.Nested(OrderSchema, required=True)


class ReturnAnswerSchema(Answer):
    returnId = fields.String(required=True)
    order = fields.Nested(OrderSchema, required=True)


class PingSchema(Answer):
    api = fields.String(required=True)
    retailerId = fields.String(required=True)
    serverTime = fields.String(required=True)


# --- the page envelope ----------------------------------------------------------------------


class PageSchema(Answer):
    page = fields.Integer(required=True)
    pageSize = fields.Integer(required=True)
    totalCount = fields.Integer(required=True)
    pageCount = fields.Integer(required=True)
    isLastPage = fields.Boolean(required=True)
    serverTime = fields.String(required=True)
    items = fields.List(fields.Raw(), required=True)


_PAGE_SCHEMAS: dict[type[Schema], type[Schema]] = {}


def page_of(item: type[Schema]) -> type[Schema]:
    """An envelope schema whose `items` are loaded with `item` (built once per type)."""
    cached = _PAGE_SCHEMAS.get(item)
    if cached is None:
        cached = type(
            f"{item.__name__.removesuffix('Schema')}PageSchema",
            (PageSchema,),
            {"items": fields.List(fields.Nested(item), required=True)},
        )
        _PAGE_SCHEMAS[item] = cached
    return cached
