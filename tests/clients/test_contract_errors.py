"""Answers that break the contract -> ContractError naming the field, never a KeyError later.

The bad answers come from a tiny local Flask app (the sandboxes are faithful, so they cannot
serve them); the clients talk to it over real HTTP like to any other server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, jsonify

from clients.errors import ContractError, PermanentError
from clients.plentyone import PlentyOneClient
from clients.spocc import SpoccClient
from sandboxes.common.server import BackgroundServer
from schemas.secret import Secret


def _order(i: int) -> dict[str, Any]:
    return {"id": i, "typeId": 1, "statusId": 5, "extraField": "ignored"}


def bad_app() -> Flask:
    app = Flask("bad-answers")

    @app.post("/rest/login")
    def login() -> Any:
        return jsonify({"access_token": "t", "refresh_token": "r", "token_type": "Bearer",
                        "expires_in": 3600})

    @app.get("/rest/orders/<int:order_id>")
    def order(order_id: int) -> Any:
        if order_id == 1:
            return jsonify(_order(1) | {"unknownRelation": [1, 2]})  # unknown fields: fine
        if order_id == 2:
            return jsonify({"typeId": 1, "statusId": 5})  # no id
        return jsonify(_order(order_id) | {"statusId": "five"})  # wrong type

    @app.get("/rest/orders/search")
    def search() -> Any:
        entries = [_order(i) for i in range(5)]
        del entries[3]["id"]
        return jsonify({"page": 1, "totalsCount": 5, "isLastPage": True, "lastPageNumber": 1,
                        "entries": entries})

    @app.get("/rest/stockmanagement/warehouses")
    def not_json() -> Any:
        return "<html>maintenance</html>", 200, {"Content-Type": "text/html"}

    @app.get("/global-stock/v1/stock/<spocc_id>")
    def stock(spocc_id: str) -> Any:
        return jsonify({"spoccId": spocc_id, "eccVariationNumber": spocc_id[:8],
                        "articleNumber": "1", "stock": [], "changedAt": "2026-01-01T00:00:00Z",
                        "prices": {"target": None, "recommendedRetail": "1.00",
                                   "currency": "EUR"}})

    return app


@pytest.fixture
def bad_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(bad_app()) as server:
        yield server


def test_unknown_fields_are_tolerated(
    bad_server: BackgroundServer, plenty_client: Callable[..., PlentyOneClient]
) -> None:
    order = plenty_client(bad_server.url).order(1)
    assert order == {"id": 1, "typeId": 1, "statusId": 5.0}


def test_missing_required_field_names_the_field(
    bad_server: BackgroundServer, plenty_client: Callable[..., PlentyOneClient]
) -> None:
    with pytest.raises(ContractError) as info:
        plenty_client(bad_server.url).order(2)
    assert str(info.value) == "GET /rest/orders/2: id: Missing data for required field."
    assert isinstance(info.value, PermanentError)


def test_wrong_type_names_the_field(
    bad_server: BackgroundServer, plenty_client: Callable[..., PlentyOneClient]
) -> None:
    with pytest.raises(ContractError, match=r"GET /rest/orders/3: statusId: Not a valid number"):
        plenty_client(bad_server.url).order(3)


def test_missing_field_in_a_page_entry_names_its_index(
    bad_server: BackgroundServer, plenty_client: Callable[..., PlentyOneClient]
) -> None:
    with pytest.raises(ContractError) as info:
        list(plenty_client(bad_server.url).search_orders(status_id=5))
    assert str(info.value) == (
        "GET /rest/orders/search: entries[3].id: Missing data for required field."
    )


def test_answer_that_is_not_json_is_a_contract_error(
    bad_server: BackgroundServer, plenty_client: Callable[..., PlentyOneClient]
) -> None:
    with pytest.raises(ContractError, match="not JSON"):
        plenty_client(bad_server.url).warehouses()


def test_spocc_missing_nested_field_names_the_path(
    bad_server: BackgroundServer, redis_conn: Any, prefix: str
) -> None:
    client = SpoccClient(bad_server.url, retailer_id="1", content_key=Secret("a"),
                         stock_key=Secret("b"), transaction_key=Secret("c"),
                         connection_id="bad", redis=redis_conn, key_prefix=prefix)
    with pytest.raises(ContractError) as info:
        client.variation_stock("12345678042")
    assert str(info.value) == (
        "GET /global-stock/v1/stock/12345678042: prices.retail: Missing data for required field."
    )
