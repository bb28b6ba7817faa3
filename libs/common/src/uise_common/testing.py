"""Helpers for services' own unit tests of their handlers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from uise_common.db import Migration, make_engine, migrate


def migrated_sqlite(directory: Path, migrations: list[Migration]) -> Engine:
    """A SQLite engine in `directory` with the common tables and `migrations` applied."""
    from uise_common.service import COMMON_MIGRATION

    engine = make_engine(f"sqlite:///{directory / 'unit.db'}", "unit")
    migrate(engine, [COMMON_MIGRATION, *migrations])
    return engine


def run_handler(engine: Engine, handler, event) -> list:
    """Call a handler in its own committed transaction, as the consumer runner does."""
    with Session(engine) as session:
        out = handler(event, session)
        session.commit()
        return out
