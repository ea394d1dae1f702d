"""SQL helpers of the catalogue sync."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.sql.elements import ColumnElement


def among(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN (values)` with the values written into the statement.

    psycopg prepares a statement it has run five times on a connection; PostgreSQL's generic
    plan for `key IN ($1 … $1000)` then scans the table instead of the index (measured: 2 s
    instead of 15 ms over 50,000 rows). Literal values make each list its own statement,
    planned with the index.
    """
    return column.in_(
        bindparam(f"among_{column.key}", list(values), expanding=True, literal_execute=True)
    )
