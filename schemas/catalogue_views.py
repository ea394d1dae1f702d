"""Narrow views of answers the sync reads in bulk.

A full `schemas.plentyone.VariationSchema` load of 250 variations costs more than the call
itself; the sync reads tens of thousands, and needs a handful of fields from each. These
views declare only those (the rest is dropped), with the same contract checks on what they
declare.
"""

from __future__ import annotations

from functools import lru_cache

from marshmallow import EXCLUDE, Schema, fields


class _View(Schema):
    class Meta:
        unknown = EXCLUDE


class BarcodeView(_View):
    barcodeId = fields.Integer(required=True)
    code = fields.String(required=True)


class StockView(_View):
    warehouseId = fields.Integer(required=True)
    stockPhysical = fields.Float(load_default=0.0)


class PriceView(_View):
    salesPriceId = fields.Integer(required=True)
    price = fields.Float(required=True)


class LinkVariationView(_View):
    """What matching needs: ids, number, barcodes."""

    id = fields.Integer(required=True)
    itemId = fields.Integer(required=True)
    number = fields.String(allow_none=True)
    variationBarcodes = fields.List(fields.Nested(BarcodeView), allow_none=True)


class CurrentVariationView(_View):
    """What the full run compares: stock per warehouse and sales prices."""

    id = fields.Integer(required=True)
    stock = fields.List(fields.Nested(StockView), allow_none=True)
    variationSalesPrices = fields.List(fields.Nested(PriceView), allow_none=True)


class StockRecordView(_View):
    """A SPoCC `/stock` record as the planner triages it (a thousand a page): the key is
    checked, the rest read as sent; a unit loads the full `StockSchema` before it writes."""

    spoccId = fields.String(required=True)
    stock = fields.Raw(required=True)
    prices = fields.Raw(required=True)


class IdView(_View):
    id = fields.Integer(required=True)


@lru_cache(maxsize=16)
def key_only(key: str) -> type[Schema]:
    """A list item of which only the key is read (the planner)."""
    return type(f"{key.title()}KeyView", (_View,), {key: fields.Raw(required=True)})
