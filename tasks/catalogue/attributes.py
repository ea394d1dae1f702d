"""Attributes: each SPoCC attribute becomes a PlentyONE attribute (matched by name, else
created) with its values; an attribute unchanged since its last push is skipped. Colour and
size are not SPoCC attributes (they are the article's structure): item import makes their
values. Unit: a few attributes."""

from __future__ import annotations

import json
from typing import Any

from clients.spocc import CONTENT
from schemas.spocc import AttributeSchema
from store.models import SyncRun
from tasks.catalogue import plenty_ids, rules, state
from tasks.catalogue.context import Context
from tasks.catalogue.process import Page, SpoccListing, Work
from tasks.catalogue.runs import UnitResult

KIND = "attribute_def"


class Attributes:
    name = "attributes"
    unit_size = 20
    link_scan = False

    def __init__(self) -> None:
        self.listing = SpoccListing(
            CONTENT, "/attributes", AttributeSchema, "id", 1000, changed_since=False
        )

    def page(self, ctx: Context, run: SyncRun, page: int) -> Page:
        return self.listing.page(ctx, run, page)

    def push(self, work: Work) -> UnitResult:
        ctx = work.ctx
        result = UnitResult()
        wanted = set(work.keys)
        # SPoCC has no route for one attribute; the list is short
        attributes = [a for a in ctx.spocc.attributes() if str(a["id"]) in wanted]
        result.skipped += len(wanted) - len(attributes)
        with work.db() as session:
            pushed = state.hashes(session, ctx.id, KIND, [str(a["id"]) for a in attributes])
        for attribute in attributes:
            key = str(attribute["id"])
            digest = rules.values_hash(_definition(attribute))
            if pushed.get(key) == digest:
                result.unchanged += 1
                continue
            if work.dry_run:
                result.pushed += 1
                continue
            attribute_id = plenty_ids.attribute(ctx, attribute["name"])
            values = {
                str(v["id"]): plenty_ids.attribute_value(ctx, attribute_id, v["name"])
                for v in attribute["values"]
            }
            with work.db() as session:
                state.save(
                    session, ctx.id, KIND, key, digest, ref=attribute_id, state={"values": values}
                )
            result.pushed += 1
        return result


def _definition(attribute: dict[str, Any]) -> dict[str, Any]:
    values = sorted((int(v["id"]), str(v["name"])) for v in attribute["values"])
    return {"name": attribute["name"], "values": json.dumps(values)}
