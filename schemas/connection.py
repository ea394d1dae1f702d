"""The typed configuration every process reads: one `ConnectionConfig` per connection.

Built by the schemas in `schemas/config.py` from the applied file; frozen, so a task cannot
change what another task sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.secret import Secret


@dataclass(frozen=True)
class SpoccApi:
    base_url: str
    retailer_id: str
    content_api_key: Secret | None
    stock_api_key: Secret | None
    transaction_api_key: Secret | None
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class PlentyApi:
    base_url: str
    username: str
    password: Secret | None
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class Webhooks:
    token: Secret | None
    signing_secret: Secret | None
    # The sign key PlentyONE shows once when a webhook subscription is made.
    plentyone_sign_key: Secret | None = None


@dataclass(frozen=True)
class ItemImport:
    complete_import: bool
    extended_data_tag_id: int | None
    default_category_id: int
    ean_barcode_type_id: int
    spocc_id_barcode_type_id: int
    colour_attribute_id: int
    size_attribute_id: int
    plenty_client_id: int | None


@dataclass(frozen=True)
class SalesPrices:
    retail: int
    target: int | None
    recommended_retail: int | None


@dataclass(frozen=True)
class WarehouseMap:
    channel_store: int
    warehouse_id: int
    storage_location_id: int = 0
    reason_id: int = 301


@dataclass(frozen=True)
class Mappings:
    item_import: ItemImport
    sales_prices: SalesPrices
    properties: dict[int, int]  # SPoCC attribute id → PlentyONE property id
    categories: dict[int, int]  # SPoCC product group id → PlentyONE category id
    warehouses: list[WarehouseMap]
    markets: dict[str, int]  # PlentyONE referrer id ("104.01") → SPoCC referrer id
    return_reasons: dict[int, int]  # PlentyONE return reason → SPoCC reason
    order_statuses: dict[str, str | None]

    def spocc_referrer(self, plenty_referrer_id: float | str) -> int | None:
        return self.markets.get(referrer_key(plenty_referrer_id))

    def warehouse_for_store(self, channel_store: int) -> WarehouseMap | None:
        return next((w for w in self.warehouses if w.channel_store == channel_store), None)

    def store_for_warehouse(self, warehouse_id: int) -> WarehouseMap | None:
        return next((w for w in self.warehouses if w.warehouse_id == warehouse_id), None)


@dataclass(frozen=True)
class Acceptance:
    enabled: bool = False
    threshold: float = 0.97
    on_fail: str = "not_enough_stock"  # or "hold": a person decides (`spocc orders release`)


@dataclass(frozen=True)
class Rules:
    block_order_referrers: list[str] = field(default_factory=list)
    block_product_groups: list[int] = field(default_factory=list)
    cap_stock: int | None = None
    stock_buffer: int = 0


@dataclass(frozen=True)
class ProcessSetting:
    enabled: bool
    interval_minutes: int


@dataclass(frozen=True)
class Share:
    """This connection's share of the workers, whatever the others queue: at most
    `concurrency` of its units run at once, and its planners keep at most `queued` units
    waiting in the queue (counted per urgency tier and the more urgent ones). Beyond `orders`
    of its order events running at once, it yields the order workers to another connection
    whose events wait while it runs fewer (`tasks/orders/share.py`)."""

    concurrency: int = 4
    queued: int = 8
    orders: int = 1


@dataclass(frozen=True)
class ConnectionConfig:
    id: str
    name: str
    test_mode: bool
    spocc: SpoccApi
    plentyone: PlentyApi
    webhooks: Webhooks
    mappings: Mappings
    acceptance: Acceptance
    rules: Rules
    processes: dict[str, ProcessSetting]
    share: Share = field(default_factory=Share)

    def status(self, outcome: str) -> str | None:
        return self.mappings.order_statuses.get(outcome)


def referrer_key(value: float | str) -> str:
    """PlentyONE referrer ids are decimals (104.01); one spelling for 4, 4.0 and "4.00"."""
    return f"{float(value):.2f}"
