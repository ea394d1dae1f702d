"""A connection's rows, all of them or all but some tables: for `spocc config remove` and
for the reset of a test-mode connection when `spocc up` starts empty sandboxes."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session


def delete_rows(session: Session, connection_ids: list[str],
                keep: frozenset[str] = frozenset()) -> list[str]:
    """Every table with a `connection_id` loses these connections' rows, unless named in
    KEEP; rows of other tables that point at a deleted row go with it (children first).
    Returns the tables that lost rows."""
    import pkgutil
    from importlib import import_module

    import store
    from store.models import Base

    for module in pkgutil.iter_modules(store.__path__):
        if module.name.endswith("models"):
            import_module(f"store.{module.name}")
    tables = Base.metadata.sorted_tables
    reset = {t.name for t in tables if "connection_id" in t.c and t.name not in keep}
    emptied = []
    for table in reversed(tables):  # children before their parents
        if table.name in reset:
            where = table.c.connection_id.in_(connection_ids)
        else:
            pointing = [
                fk.parent.in_(select(fk.column).where(fk.column.table.c.connection_id
                                                      .in_(connection_ids)))
                for fk in table.foreign_keys
                if fk.column.table.name in reset
            ]
            if not pointing:
                continue
            where = or_(*pointing)
        if session.execute(delete(table).where(where)).rowcount:  # type: ignore[attr-defined]
            emptied.append(table.name)
    return emptied

