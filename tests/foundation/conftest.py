from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store.migrate import upgrade


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same behaviour on production's PostgreSQL and the embedded SQLite."""
    if request.param == "postgresql":
        yield request.getfixturevalue("spocc_env").database_url
    else:
        url = f"sqlite:///{tmp_path / 'spocc.db'}"
        upgrade(url)
        yield url
