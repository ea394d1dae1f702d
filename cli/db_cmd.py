"""`spocc db upgrade`: apply the Alembic migrations."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from cli.console import fail, out
from store import migrate
from workers import runtime


@click.group()
def db() -> None:
    """The database."""


@db.command()
def upgrade() -> None:
    """Migrate the database to the newest schema."""
    url = runtime.settings().database_url
    try:
        migrate.upgrade(url)
    except SQLAlchemyError as exc:
        fail(
            f"database {_safe(url)}: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}"
        )
    out.print(f"database {_safe(url)} at revision {migrate.current_revision(url)}")


def _safe(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
