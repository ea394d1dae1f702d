"""Which PlentyONE variation carries which SPoCC ID.

A variation the connector created has the SPoCC ID as its number and as a barcode of the
configured "SPoCC ID" type; one made by hand is matched through that barcode alone. The link
table remembers the answer, so a sync does not search PlentyONE per variation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from clients.plentyone import PlentyOneClient
from store.catalogue_models import CatalogueLink
from store.models import utcnow
from tasks.catalogue.sql import among
from workers import runtime

SPOCC_ID = re.compile(r"^\d{11}$")


def spocc_id_of(variation: Mapping[str, Any], barcode_type_id: int) -> str | None:
    """The SPoCC ID a PlentyONE variation carries: its SPoCC-ID barcode, else its number."""
    for barcode in variation.get("variationBarcodes") or []:
        if barcode.get("barcodeId") == barcode_type_id and SPOCC_ID.match(str(barcode["code"])):
            return str(barcode["code"])
    number = str(variation.get("number") or "")
    return number if SPOCC_ID.match(number) else None


def links_for(
    session: Session, connection_id: str, spocc_ids: Iterable[str]
) -> dict[str, CatalogueLink]:
    ids = list(spocc_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(CatalogueLink).where(
            CatalogueLink.connection_id == connection_id, among(CatalogueLink.spocc_id, ids)
        )
    ).scalars()
    return {row.spocc_id: row for row in rows}


def variation_ids(session: Session, connection_id: str, spocc_ids: Iterable[str]) -> dict[str, int]:
    """SPoCC ID → PlentyONE variation id, without loading the rows."""
    ids = list(spocc_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(CatalogueLink.spocc_id, CatalogueLink.variation_id).where(
            CatalogueLink.connection_id == connection_id, among(CatalogueLink.spocc_id, ids)
        )
    )
    return {spocc_id: int(variation_id) for spocc_id, variation_id in rows}


def save_link(
    session: Session,
    connection_id: str,
    spocc_id: str,
    variation_id: int,
    item_id: int,
    article_number: str | None = None,
    product_group_id: int | None = None,
) -> CatalogueLink:
    row = session.get(CatalogueLink, (connection_id, spocc_id))
    if row is None:
        row = CatalogueLink(connection_id=connection_id, spocc_id=spocc_id)
        session.add(row)
    row.variation_id = int(variation_id)
    row.item_id = int(item_id)
    if article_number is not None:
        row.article_number = article_number
    if product_group_id is not None:
        row.product_group_id = product_group_id
    row.updated_at = utcnow()
    session.flush()
    return row


def forget_link(session: Session, connection_id: str, spocc_id: str) -> None:
    session.execute(
        delete(CatalogueLink).where(
            CatalogueLink.connection_id == connection_id, CatalogueLink.spocc_id == spocc_id
        )
    )


def find_variation(
    plenty: PlentyOneClient, spocc_id: str, barcode_type_id: int
) -> dict[str, Any] | None:
    """Search PlentyONE for the variation of one SPoCC ID (barcode first, then number)."""
    for found in plenty.variations(barcode=spocc_id, with_=("variationBarcodes",)):
        if spocc_id_of(found, barcode_type_id) == spocc_id:
            return found
    return plenty.variation_by_number(spocc_id, with_=("variationBarcodes",))


def resolve(
    plenty: PlentyOneClient,
    connection_id: str,
    spocc_ids: Sequence[str],
    barcode_type_id: int,
) -> dict[str, CatalogueLink]:
    """Links of the given SPoCC IDs; unknown ones are searched in PlentyONE once each.

    Read, commit, search, record: no transaction is open while PlentyONE is asked. The
    links answered are detached rows (read them; change them through this module).
    """
    with runtime.db() as session:
        known = links_for(session, connection_id, spocc_ids)
    found = {}
    for spocc_id in spocc_ids:
        if spocc_id not in known:
            variation = find_variation(plenty, spocc_id, barcode_type_id)
            if variation is not None:
                found[spocc_id] = variation
    if found:
        with runtime.db() as session:
            for spocc_id, variation in found.items():
                known[spocc_id] = save_link(
                    session, connection_id, spocc_id, variation["id"], variation["itemId"]
                )
    return known


def scan_page(
    plenty: PlentyOneClient, connection_id: str, barcode_type_id: int, page: int
) -> tuple[int, bool]:
    """Link every variation of one page of PlentyONE's variation list (250 a page).

    Returns (variations linked, whether it was the last page). Used before a full run so a
    catalogue that already exists in PlentyONE is matched with one read per 250 variations.
    """
    entries, last = plenty.variation_links_page(page)
    found: dict[str, dict[str, Any]] = {}
    for variation in entries:
        spocc_id = spocc_id_of(variation, barcode_type_id)
        if spocc_id is not None:
            found[spocc_id] = variation
    with runtime.db() as session:
        known = links_for(session, connection_id, found)
        for spocc_id, variation in found.items():
            link = known.get(spocc_id)
            if link is None:
                session.add(
                    CatalogueLink(
                        connection_id=connection_id,
                        spocc_id=spocc_id,
                        variation_id=int(variation["id"]),
                        item_id=int(variation["itemId"]),
                    )
                )
            elif link.variation_id != variation["id"] or link.item_id != variation["itemId"]:
                link.variation_id, link.item_id = int(variation["id"]), int(variation["itemId"])
    return len(found), last


def describe(
    connection_id: str, spocc_id: str, article_number: str | None, product_group_id: int | None
) -> None:
    """Record the article and product group of a linked variation."""
    with runtime.db() as session:
        session.execute(
            update(CatalogueLink)
            .where(CatalogueLink.connection_id == connection_id, CatalogueLink.spocc_id == spocc_id)
            .values(article_number=article_number, product_group_id=product_group_id)
        )
