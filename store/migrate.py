"""Alembic, driven from code: `spocc db upgrade`, and the check that the schema is current."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from store.db import get_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    # "heads": each domain (catalogue, orders) keeps its own branch of revisions from 0001.
    command.upgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    return ",".join(sorted(heads)) or None


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) or None


def is_current(url: str) -> bool:
    return current_revision(url) == head_revision(url)
