"""Pre-seed items and variations that match the SPoCC catalogue generator.

Each article becomes an item; each of its variations gets the SPoCC ID as variation number
and as barcode of the "SPoCC ID" barcode type (plus its EAN), and colour and size attribute
values. Stock and prices stay empty: pushing them is the sync's work.
"""

from __future__ import annotations

from sandboxes.catalogue import Catalogue
from sandboxes.plentyone.catalogue_ops import create_variation
from sandboxes.plentyone.lookups import LOOKUP_IDS, add_attribute_value
from sandboxes.plentyone.store import Store, iso

SHOES_CATEGORY = 2


def seed_catalogue(store: Store, variations: int, seed: int) -> int:
    """Create `variations` variations from the catalogue of `seed`; answers how many."""
    catalogue = Catalogue(variations=variations, seed=seed)
    colour_attr = LOOKUP_IDS["attributes"]["colour"]
    size_attr = LOOKUP_IDS["attributes"]["size"]
    spocc_barcode = LOOKUP_IDS["barcode_types"]["spocc_id"]
    ean_barcode = LOOKUP_IDS["barcode_types"]["ean"]
    values: dict[tuple[int, str], int] = {}

    def value_id(attribute_id: int, name: str) -> int:
        key = (attribute_id, name)
        if key not in values:
            values[key] = add_attribute_value(store, attribute_id, name, len(values) + 1)["id"]
        return values[key]

    created = 0
    with store.lock:
        ts = iso(store.now())
        current_article = -1
        item_id = 0
        article_name = ""
        for variation in catalogue.variations():
            if variation.article_index != current_article:
                current_article = variation.article_index
                article = catalogue.article(current_article)
                article_name = article.name
                item_id = store.next_id("item", 100)
                store.items[item_id] = {
                    "id": item_id, "position": 0, "itemType": "default", "stockType": 0,
                    "storeSpecial": 0, "ownerId": 0, "manufacturerId": 0,
                    "producingCountryId": 0, "revenueAccount": 0, "couponRestriction": 0,
                    "condition": 0, "conditionApi": 0, "isSubscribable": False,
                    "isSerialNumber": False, "isShippingPackage": False, "flagOne": 0,
                    "flagTwo": 0, "ageRestriction": 0, "feedback": 0,
                    "free1": article.article_number, "createdAt": ts, "updatedAt": ts,
                    "texts": [{"lang": "en", "name1": article.name}],
                }
            barcodes = [{"barcodeId": spocc_barcode, "code": variation.spocc_id}]
            if variation.ean:
                barcodes.append({"barcodeId": ean_barcode, "code": variation.ean})
            spec = {
                "number": variation.spocc_id, "externalId": variation.spocc_id,
                "model": variation.article_number,
                "name": f"{article_name} {variation.colour_name} {variation.size}",
                "isActive": True, "variationBarcodes": barcodes,
                "variationCategories": [{"categoryId": SHOES_CATEGORY}],
                "variationAttributeValues": [
                    {"attributeId": colour_attr,
                     "valueId": value_id(colour_attr, variation.colour_name)},
                    {"attributeId": size_attr, "valueId": value_id(size_attr, variation.size)},
                ],
            }
            is_main = "mainVariationId" not in store.items[item_id]
            made = create_variation(store, item_id, spec, is_main=is_main)
            if is_main:
                store.items[item_id]["mainVariationId"] = made["id"]
            created += 1
    return created
