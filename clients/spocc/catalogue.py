"""SPoCC's Content Article and Global Stock APIs: the catalogue's reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from clients.spocc.base import (
    CONTENT,
    MAX_PAGE_SIZE,
    STOCK,
    Delta,
    SpoccBase,
    drop_none,
)
from schemas.spocc import (
    ArticleSchema,
    AttributeSchema,
    ChannelStoreSchema,
    ProductGroupSchema,
    StockSchema,
    VariationSchema,
    page_of,
)


class CatalogueApi(SpoccBase):
    # --- Content Article API ----------------------------------------------------------------

    def articles(
        self,
        changed_since: datetime | str | None = None,
        *,
        product_group_id: int | None = None,
        page_size: int = 100,
    ) -> Delta:
        return Delta(
            self,
            CONTENT,
            "/articles",
            ArticleSchema,
            drop_none({"productGroupId": product_group_id}),
            changed_since,
            page_size,
            None,
        )

    def article(self, article_number: str) -> dict[str, Any]:
        return dict(self.call(CONTENT, "GET", f"/articles/{article_number}", schema=ArticleSchema))

    def variations(
        self,
        changed_since: datetime | str | None = None,
        *,
        article_number: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Delta:
        return Delta(
            self,
            CONTENT,
            "/variations",
            VariationSchema,
            drop_none({"articleNumber": article_number}),
            changed_since,
            page_size,
            None,
        )

    def variation(self, spocc_id: str) -> dict[str, Any]:
        return dict(self.call(CONTENT, "GET", f"/variations/{spocc_id}", schema=VariationSchema))

    def attributes(self) -> Iterator[dict[str, Any]]:
        return self.pages(CONTENT, "/attributes", AttributeSchema)

    def product_groups(self) -> Iterator[dict[str, Any]]:
        return self.pages(CONTENT, "/product-groups", ProductGroupSchema)

    # --- Global Stock API -------------------------------------------------------------------

    def channel_stores(self) -> Iterator[dict[str, Any]]:
        return self.pages(STOCK, "/channel-stores", ChannelStoreSchema)

    def stock(
        self,
        changed_since: datetime | str | None = None,
        *,
        channel_store: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Delta:
        """Stock per channel store and the three prices of every (changed) variation."""
        return Delta(
            self,
            STOCK,
            "/stock",
            StockSchema,
            drop_none({"channelStore": channel_store}),
            changed_since,
            page_size,
            None,
        )

    def stock_of(self, spocc_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Stock and prices of the given variations (up to 1,000 per call)."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(spocc_ids), MAX_PAGE_SIZE):
            batch = list(spocc_ids[start : start + MAX_PAGE_SIZE])
            page = 1
            while True:
                params: list[tuple[str, Any]] = [("spoccId", s) for s in batch]
                params += [("page", page), ("pageSize", MAX_PAGE_SIZE)]
                env = self.call(STOCK, "GET", "/stock", params=params, schema=page_of(StockSchema))
                out.extend(env["items"])
                if env["isLastPage"]:
                    break
                page += 1
        return out

    def variation_stock(self, spocc_id: str) -> dict[str, Any]:
        return dict(self.call(STOCK, "GET", f"/stock/{spocc_id}", schema=StockSchema))
