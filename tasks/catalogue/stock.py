"""Stock and prices: full (daily, repairs drift) and delta (every 15 minutes).

Per unit (up to 250 variations): one SPoCC read of their stock and prices, the mappings and
rules applied, then
- *full*: one PlentyONE read of their current stock and prices; only records that differ
  are written — a hand edit is corrected, an unchanged catalogue writes nothing;
- *delta*: a variation whose values hash like the last push is skipped; the others are
  diffed against the last pushed values (or, never pushed, against PlentyONE itself).
Writes are bulk: stock corrections per warehouse and sales prices, 50 records a call.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from clients.errors import PermanentError
from clients.plentyone import MAX_PER_PAGE, chunks
from clients.spocc import STOCK
from schemas.plentyone import page_of
from store.catalogue_models import CatalogueLink
from store.models import SyncRun
from tasks.catalogue import links, rules, state
from tasks.catalogue.answers import CurrentVariationView, StockRecordView
from tasks.catalogue.context import Context
from tasks.catalogue.process import Page, SplitUnit, SpoccListing, Work
from tasks.catalogue.runs import UnitResult, touched_kind

KIND = "stock"
SAMPLE = 20  # writes listed in a dry run's report per unit


class StockProcess:
    # 500: two PlentyONE reads of 250, one SPoCC read, bulk writes filled to 50
    unit_size = 500

    def __init__(self, name: str, full: bool) -> None:
        self.name = name
        self.full = full
        self.link_scan = full  # deep runs only (see the planner)
        self.listing = SpoccListing(STOCK, "/stock", StockRecordView, "spoccId", full_items=True)

    def page(self, ctx: Context, run: SyncRun, page: int) -> Page:
        only = run.options.get("variation")
        if only:
            return Page(keys=[str(only)], last=True)
        return self.listing.page(ctx, run, page)

    def triage(
        self, ctx: Context, session: Session, run: SyncRun, page: Page
    ) -> tuple[list[str], int]:
        """Keys whose SPoCC values hash unlike their last push, that were never pushed, or
        whose PlentyONE variation changed since the last full run; a deep run keeps all."""
        if page.items is None or run.options.get("deep"):
            return page.keys, 0
        conn = ctx.conn
        if conn.rules.block_product_groups:
            return page.keys, 0  # the unit finds each one's product group
        ids = [str(item["spoccId"]) for item in page.items]
        linked = links.variation_ids(session, ctx.id, ids)
        pushed = state.hashes(session, ctx.id, KIND, ids)
        touched = set(
            state.hashes(session, ctx.id, touched_kind(run.id), [str(v) for v in linked.values()])
        )
        keep: list[str] = []
        for item in page.items:
            spocc_id = str(item["spoccId"])
            variation_id = linked.get(spocc_id)
            if (
                variation_id is None
                or pushed.get(spocc_id) != rules.values_hash(rules.desired_values(conn, item))
                or str(variation_id) in touched
            ):
                keep.append(spocc_id)
        return keep, len(ids) - len(keep)

    def push(self, work: Work) -> UnitResult:
        ctx, session = work.ctx, work.session
        conn = ctx.conn
        result = UnitResult()
        records = {r["spoccId"]: r for r in ctx.spocc.stock_of(work.keys)}
        found = links.resolve(
            session,
            ctx.plenty,
            ctx.id,
            list(records),
            conn.mappings.item_import.spocc_id_barcode_type_id,
        )
        result.skipped += len(set(work.keys) - set(records))  # gone from SPoCC meanwhile
        wanted: dict[str, dict[str, Any]] = {}
        unmatched: list[str] = []
        for spocc_id, record in records.items():
            link = found.get(spocc_id)
            if link is None:
                unmatched.append(spocc_id)
                continue
            if conn.rules.block_product_groups and rules.blocked(conn, _product_group(ctx, link)):
                result.skipped += 1
                continue
            wanted[spocc_id] = rules.desired_values(conn, record)
        result.skipped += len(unmatched)
        if unmatched:
            result.detail["unmatched"] = unmatched[:SAMPLE]
        pushed = state.load(session, ctx.id, KIND, wanted)
        hashes = {s: rules.values_hash(v) for s, v in wanted.items()}
        compare: dict[str, dict[str, Any]] = {}
        read_plenty: list[str] = []
        touched = (
            state.load(
                session,
                ctx.id,
                touched_kind(work.run.id),
                [str(found[s].variation_id) for s in wanted],
            )
            if self.full
            else {}
        )
        deep = bool(work.run.options.get("deep"))
        for spocc_id in wanted:
            last = pushed.get(spocc_id)
            changed_in_plenty = str(found[spocc_id].variation_id) in touched
            if self.full and (
                deep or changed_in_plenty or last is None or last.hash != hashes[spocc_id]
            ):
                read_plenty.append(spocc_id)
            elif last is not None and last.hash == hashes[spocc_id]:
                result.unchanged += 1
            elif last is not None:
                compare[spocc_id] = dict(last.state)
            else:
                read_plenty.append(spocc_id)
        if read_plenty:
            current = _read_current(ctx, [found[s] for s in read_plenty])
            for spocc_id in read_plenty:
                have = current.get(found[spocc_id].variation_id)
                if have is None:
                    # the linked variation is gone from PlentyONE: forget the link; the next
                    # item import recreates or rematches it
                    links.forget_link(session, ctx.id, spocc_id)
                    result.skipped += 1
                    wanted.pop(spocc_id)
                    continue
                compare[spocc_id] = rules.current_values(have, wanted[spocc_id])
        writes: dict[str, dict[str, Any]] = {}
        existing_prices: dict[str, set[str]] = {}
        for spocc_id, have in compare.items():
            diff = rules.differing(wanted[spocc_id], have)
            existing_prices[spocc_id] = {k for k in have if k.startswith("p:")}
            if diff:
                writes[spocc_id] = diff
            else:
                result.unchanged += 1
        if work.dry_run:
            result.pushed = len(writes)
            result.detail["would_write"] = {s: writes[s] for s in list(writes)[:SAMPLE]}
            return result
        try:
            _write(ctx, {s: found[s] for s in writes}, writes, existing_prices)
        except PermanentError as exc:
            if len(work.keys) > 1:
                raise SplitUnit(exc) from exc
            raise
        result.pushed = len(writes)
        for spocc_id in set(writes) | set(compare):
            last = pushed.get(spocc_id)
            if spocc_id in wanted and (last is None or last.hash != hashes[spocc_id]):
                state.save(
                    session,
                    ctx.id,
                    KIND,
                    spocc_id,
                    hashes[spocc_id],
                    state=wanted[spocc_id],
                    loaded=pushed,
                )
        return result


def _product_group(ctx: Context, link: CatalogueLink) -> int | None:
    if link.product_group_id is None:
        variation = ctx.spocc.variation(link.spocc_id)
        link.product_group_id = variation.get("productGroupId")
        link.article_number = variation.get("articleNumber")
    return link.product_group_id


def _read_current(ctx: Context, linked: list[CatalogueLink]) -> dict[int, dict[str, Any]]:
    """PlentyONE's stock and prices of these variations, 250 a read."""
    out: dict[int, dict[str, Any]] = {}
    for batch in chunks([link.variation_id for link in linked], MAX_PER_PAGE):
        env = ctx.plenty.call(
            "GET",
            "/rest/items/variations",
            params={
                "id": ",".join(str(i) for i in batch),
                "with": "stock,variationSalesPrices",
                "page": 1,
                "itemsPerPage": MAX_PER_PAGE,
            },
            schema=page_of(CurrentVariationView),
        )
        for variation in env["entries"]:
            out[int(variation["id"])] = variation
    return out


def _write(
    ctx: Context,
    linked: dict[str, CatalogueLink],
    writes: dict[str, dict[str, Any]],
    existing_prices: dict[str, set[str]],
) -> None:
    corrections: dict[int, list[dict[str, Any]]] = defaultdict(list)
    new_prices: list[dict[str, Any]] = []
    changed_prices: list[dict[str, Any]] = []
    by_store = {w.warehouse_id: w for w in ctx.conn.mappings.warehouses}
    for spocc_id, diff in writes.items():
        variation_id = linked[spocc_id].variation_id
        for key, value in diff.items():
            kind, _, ident = key.partition(":")
            if kind == "s":
                target = by_store[int(ident)]
                corrections[target.warehouse_id].append(
                    {
                        "variationId": variation_id,
                        "quantity": value,
                        "storageLocationId": target.storage_location_id,
                        "reasonId": target.reason_id,
                    }
                )
            else:
                record = {
                    "variationId": variation_id,
                    "salesPriceId": int(ident),
                    "price": float(value),
                }
                if key in existing_prices.get(spocc_id, set()):
                    changed_prices.append(record)
                else:
                    new_prices.append(record)
    for warehouse_id, batch in sorted(corrections.items()):
        ctx.plenty.correct_stock(warehouse_id, batch)
    if changed_prices:
        ctx.plenty.set_variation_sales_prices(changed_prices)
    if new_prices:
        ctx.plenty.create_variation_sales_prices(new_prices)
