"""Fixtures shared by intake's tests."""

import pytest

from uise_common.db import make_engine, migrate
from uise_common.service import COMMON_MIGRATION
from uise_common.testing import migrated_sqlite, scratch_postgres
from uise_intake.adapters import MIGRATIONS


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """Intake's migrated database, on SQLite and on a scratch PostgreSQL database (whose READ
    COMMITTED shows the lost updates SQLite's single writer hides). A test module may define an
    `engine` of its own, which then takes precedence."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path, MIGRATIONS)
        return
    with scratch_postgres("intake") as url:
        eng = make_engine(url, "intake")
        migrate(eng, [COMMON_MIGRATION, *MIGRATIONS])
        yield eng
        eng.dispose()
