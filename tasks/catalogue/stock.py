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
from clients.spocc import STOCK
from schemas.catalogue_views import StockRecordView
from store.catalogue_models import CatalogueLink
from store.models import SyncRun
from tasks.catalogue import links, rules, state
from tasks.catalogue.context import Context
from tasks.catalogue.process import Page, SplitUnit, SpoccListing, Work, named_keys
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
        ctx = work.ctx
        conn = ctx.conn
        result = UnitResult()
        records = {r["spoccId"]: r for r in ctx.spocc.stock_of(work.keys)}
        found = links.resolve(
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
        with work.db() as session:
            pushed = state.load(session, ctx.id, KIND, wanted)
            touched = (
                state.hashes(
                    session,
                    ctx.id,
                    touched_kind(work.run.id),
                    [str(found[s].variation_id) for s in wanted],
                )
                if self.full
                else {}
            )
        hashes = {s: rules.values_hash(v) for s, v in wanted.items()}
        compare: dict[str, dict[str, Any]] = {}
        read_plenty: list[str] = []
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
        # what PlentyONE holds of every record the mappings write, wanted now or not: a price
        # no longer written still exists there, and is updated, not created, when it returns
        mapped = rules.mapped_keys(conn)
        if read_plenty:
            current = ctx.plenty.stock_and_prices([found[s].variation_id for s in read_plenty])
            gone = [s for s in read_plenty if found[s].variation_id not in current]
            if gone:
                # the linked variation is gone from PlentyONE: forget the link; the next item
                # import recreates or rematches it
                with work.db() as session:
                    for spocc_id in gone:
                        links.forget_link(session, ctx.id, spocc_id)
                        wanted.pop(spocc_id)
                result.skipped += len(gone)
            for spocc_id in read_plenty:
                if spocc_id in wanted:
                    have = current[found[spocc_id].variation_id]
                    compare[spocc_id] = rules.current_values(have, mapped)
        writes: dict[str, dict[str, Any]] = {}
        for spocc_id, have in compare.items():
            diff = rules.differing(wanted[spocc_id], have)
            if diff:
                writes[spocc_id] = diff
            else:
                result.unchanged += 1
        if work.dry_run:
            result.pushed = len(writes)
            result.detail["would_write"] = {s: writes[s] for s in list(writes)[:SAMPLE]}
            return result
        try:
            _write(ctx, {s: found[s] for s in writes}, writes, compare)
        except PermanentError as exc:
            if len(work.keys) > 1:
                by_variation = {found[s].variation_id: s for s in writes}
                raise SplitUnit(exc, culprits=named_keys(exc, by_variation)) from exc
            raise
        result.pushed = len(writes)
        # the state is what PlentyONE holds now: what it had, and what was just written
        after = {s: {**have, **writes.get(s, {})} for s, have in compare.items()}
        save = [
            s
            for s in after
            if (last := pushed.get(s)) is None or last.hash != hashes[s] or last.state != after[s]
        ]
        if save:
            with work.db() as session:
                rows = state.load(session, ctx.id, KIND, save)
                for spocc_id in save:
                    state.save(
                        session,
                        ctx.id,
                        KIND,
                        spocc_id,
                        hashes[spocc_id],
                        state=after[spocc_id],
                        loaded=rows,
                    )
        return result


def _product_group(ctx: Context, link: CatalogueLink) -> int | None:
    if link.product_group_id is None:
        variation = ctx.spocc.variation(link.spocc_id)
        link.product_group_id = variation.get("productGroupId")
        link.article_number = variation.get("articleNumber")
        links.describe(ctx.id, link.spocc_id, link.article_number, link.product_group_id)
    return link.product_group_id


def _write(
    ctx: Context,
    linked: dict[str, CatalogueLink],
    writes: dict[str, dict[str, Any]],
    have: dict[str, dict[str, Any]],
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
                if key in have.get(spocc_id, {}):
                    changed_prices.append(record)
                else:
                    new_prices.append(record)
    for warehouse_id, batch in sorted(corrections.items()):
        ctx.plenty.correct_stock(warehouse_id, batch)
    if changed_prices or new_prices:
        ctx.plenty.save_variation_sales_prices(changed_prices, new_prices)
