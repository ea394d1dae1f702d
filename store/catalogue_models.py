"""Catalogue sync tables: the units of a run, which PlentyONE variation is which SPoCC ID, and
what was last pushed (so unchanged data is not written again)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, BigId, SyncRun, utcnow

# A unit is open while pending or running; every other status is final. So is a run.
OPEN_UNIT = ("pending", "running")
OPEN_RUN = ("running",)

# The tick asks "is the previous run of this process still open?" every minute.
Index("ix_sync_runs_open", SyncRun.connection_id, SyncRun.process, SyncRun.status)


class SyncUnit(Base):
    """One task's share of a run: up to a few hundred keys (SPoCC IDs, article numbers,
    attribute ids). `seq` is deterministic per run, so a resumed planner finds its units."""

    __tablename__ = "sync_units"
    __table_args__ = (
        UniqueConstraint("run_id", "seq"),
        Index("ix_sync_units_run_status", "run_id", "status"),
        Index("ix_sync_units_status_lease", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    keys: Mapped[list[str]] = mapped_column(JSON)
    # pending → running → done | dead (failed for good) | split (into smaller units) | timed_out
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # every start, and the starts that never finished (worker killed, hard time limit)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lost: Mapped[int] = mapped_column(Integer, default=0)
    # migration 0005: who runs it until when (renewed while it runs), or until when a sent,
    # not yet started unit waits for its message before the sweeper sends it again
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    pushed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CatalogueLink(Base):
    """SPoCC ID → the PlentyONE variation that carries it (as number or SPoCC-ID barcode)."""

    __tablename__ = "catalogue_links"
    __table_args__ = (Index("ix_catalogue_links_article", "connection_id", "article_number"),)

    connection_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    spocc_id: Mapped[str] = mapped_column(String(11), primary_key=True)
    variation_id: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[int] = mapped_column(BigInteger)
    article_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    product_group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CatalogueState(Base):
    """What was last pushed for one key of one kind: its hash, the values themselves (for a
    record-level diff) and the PlentyONE id it produced (attribute value, image)."""

    __tablename__ = "catalogue_state"

    connection_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    ref: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
