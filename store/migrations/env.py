"""Alembic environment: the URL comes from the caller (store.migrate), never from a file."""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context
from sqlalchemy import pool

import store
from store.db import get_engine
from store.models import Base

# Each domain's tables live in store/<domain>_models.py on the same Base.
for _module in pkgutil.iter_modules(store.__path__):
    if _module.name.endswith("_models"):
        importlib.import_module(f"store.{_module.name}")

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "store.migrate sets sqlalchemy.url"

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = get_engine(url) if url.startswith("sqlite") else None
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Batch mode lets later migrations alter columns on SQLite too.
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
