"""Prices are created only where PlentyONE lacks them: an "already has" answer is an update."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clients.errors import Unprocessable
from clients.plentyone import PlentyOneClient
from sandboxes.common.server import BackgroundServer
from tests.clients.conftest import Admin

ROUTE = "/rest/items/variations/variation_sales_prices"


def prices_of(client: PlentyOneClient, ids: list[int]) -> dict[int, dict[int, float]]:
    return {
        vid: {p["salesPriceId"]: p["price"] for p in v.get("variationSalesPrices") or []}
        for vid, v in client.stock_and_prices(ids).items()
    }


def test_creating_prices_a_variation_already_has_updates_them(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox(variations=20)
    client = plenty_client(server.url)
    admin = Admin(server.url)
    ids = [v["id"] for v in client.variations()][:3]
    # two of them got price 1 behind the caller's back (by hand, or an earlier push)
    client.create_variation_sales_prices(
        [{"variationId": v, "salesPriceId": 1, "price": 10.0} for v in ids[:2]]
    )
    admin.clear_stats()

    new = [{"variationId": v, "salesPriceId": 1, "price": 20.0 + n} for n, v in enumerate(ids)]
    client.save_variation_sales_prices([], new)

    assert prices_of(client, ids) == {ids[0]: {1: 20.0}, ids[1]: {1: 21.0}, ids[2]: {1: 22.0}}
    # the refused create, one update of the two that existed, one create of the third
    assert admin.calls("POST", ROUTE) == 2
    assert admin.calls("PUT", ROUTE) == 1


def test_a_refusal_about_something_else_is_not_turned_into_an_update(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox(variations=5)
    client = plenty_client(server.url)
    vid = next(iter(client.variations()))["id"]
    with pytest.raises(Unprocessable, match="unknown sales price"):
        client.save_variation_sales_prices(
            [], [{"variationId": vid, "salesPriceId": 999, "price": 1.0}]
        )
