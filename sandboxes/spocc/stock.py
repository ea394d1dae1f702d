"""Global Stock API: stock per channel store and the three prices, with "changed since"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from sandboxes.catalogue import Variation, channel_store_name, format_cents
from sandboxes.spocc.api import api_blueprint
from sandboxes.spocc.auth import GLOBAL_STOCK, Credentials, RateLimiter
from sandboxes.spocc.errors import ApiError
from sandboxes.spocc.params import (
    MAX_PAGE_SIZE,
    check_spocc_id,
    envelope,
    iso,
    optional_int_arg,
    page_args,
    paged_list,
    request_started,
    timestamp_arg,
)
from sandboxes.spocc.state import SpoccState

PREFIX = "/global-stock/v1"


def stock_blueprint(
    state: SpoccState, credentials: Credentials, limiter: RateLimiter
) -> Blueprint:
    bp = api_blueprint("global_stock", PREFIX, GLOBAL_STOCK, credentials, limiter)
    catalogue = state.catalogue

    def stock_json(v: Variation, store: int | None) -> dict[str, Any]:
        entries = state.stock_entries(v)
        if store is not None:
            entries = [e for e in entries if e["channelStore"] == store]
        return {
            "spoccId": v.spocc_id,
            "eccVariationNumber": v.ecc,
            "articleNumber": v.article_number,
            "stock": entries,
            "prices": {
                "retail": format_cents(v.retail_cents),
                "target": format_cents(v.target_cents) if v.target_cents is not None else None,
                "recommendedRetail": format_cents(v.rrp_cents),
                "currency": "EUR",
            },
            "changedAt": iso(state.stock_changed_at(v)),
        }

    def store_arg() -> int | None:
        store = optional_int_arg("channelStore")
        if store is not None and store not in catalogue.channel_stores:
            raise ApiError(422, "unknown_channel_store", f"no channel store {store}",
                           {"channelStore": store})
        return store

    @bp.get("/channel-stores")
    def list_channel_stores() -> Any:
        return paged_list(catalogue.channel_stores,
                          lambda n: {"number": n, "name": channel_store_name(n)})

    @bp.get("/stock")
    def list_stock() -> Any:
        page, size = page_args()
        store = store_arg()
        since = timestamp_arg("changedSince")
        before = timestamp_arg("changedBefore") or request_started()
        wanted = request.args.getlist("spoccId")
        if wanted:
            if len(wanted) > MAX_PAGE_SIZE:
                raise ApiError(400, "invalid_parameter", "at most 1000 spoccId values",
                               {"parameter": "spoccId"})
            found = sorted({
                i for i in (catalogue.index_of(check_spocc_id(s)) for s in wanted)
                if i is not None
            })
            variations = [catalogue.variation(i) for i in found]
            in_window = state.stock_view(since, before)
            selected = [v for v in variations if v.index in in_window]
            start = (page - 1) * size
            return envelope(page, size, len(selected),
                            [stock_json(v, store) for v in selected[start : start + size]])
        view = state.stock_view(since, before)
        indices = view.slice((page - 1) * size, page * size)
        items = []
        if indices and indices[-1] - indices[0] == len(indices) - 1:
            # A contiguous run (a full sync): stream it, one article lookup per article.
            items = [stock_json(v, store) for v in catalogue.variations(indices[0],
                                                                         indices[-1] + 1)]
        else:
            items = [stock_json(catalogue.variation(i), store) for i in indices]
        return envelope(page, size, len(view), items)

    @bp.get("/stock/<spocc_id>")
    def get_stock(spocc_id: str) -> Any:
        index = catalogue.index_of(check_spocc_id(spocc_id))
        if index is None:
            raise ApiError(404, "not_found", f"no variation {spocc_id}")
        return stock_json(catalogue.variation(index), store_arg())

    return bp
