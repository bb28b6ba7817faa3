"""SQLModel engine per service (SQLite file by default, PostgreSQL when a URL is given) and a
small, ordered migration runner.

Each service owns its tables: on SQLite it has its own file, on PostgreSQL its own schema
(`uise_<service>`), so two services never share a table even on one database server.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Field, SQLModel, create_engine

from uise_common.settings import Settings

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def database_url(settings: Settings, service: str) -> str:
    if settings.database_url:
        return settings.database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.data_dir / (service + '.db')}"


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def one_writer(engine: Engine) -> AbstractContextManager:
    """Hold around a write transaction. SQLite has one writer per file; a second one that finds it
    busy sleeps and polls (1, 2, 5 ... 100 ms), so a service's consumers and routes contending in
    threads wasted more time asleep than working. A lock in the process hands the file over at
    once. PostgreSQL needs none (row locks and READ COMMITTED do the work)."""
    lock = _SQLITE_WRITERS.get(engine)
    return lock if lock is not None else nullcontext()


def hold_key(session, *key: str) -> None:
    """Hold a lock on `key` until the session's transaction ends, for handlers on different topics
    that read and write rows about one thing (a submission) which may not exist yet, so no row lock
    can serialise them. PostgreSQL: an advisory transaction lock. SQLite: nothing to do, its one
    writer (see one_writer) already runs such transactions one after the other."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": "\x1f".join(key)})


def make_engine(url: str, service: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":  # plain postgresql:// means psycopg 3 here
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        # hide_parameters: a failed statement's error (logged, traced) must not carry the row's
        # values, which can be people's names and IINs.
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL lets readers run beside the one writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        _SQLITE_WRITERS[engine] = threading.Lock()
        return engine
    schema = f"uise_{service}"
    bootstrap = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with bootstrap.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    bootstrap.dispose()
    return create_engine(
        parsed,
        hide_parameters=True,  # as above: no row values in error messages
        pool_pre_ping=True,
        pool_size=5,
        connect_args={"options": f"-csearch_path={schema}"},
    )


class SchemaMigration(SQLModel, table=True):
    __tablename__ = "uise_schema_migration"
    version: int = Field(primary_key=True)
    name: str
    applied_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def create_tables(*models: type[SQLModel]) -> Callable[[Connection], None]:
    """A migration step that creates these models' tables (and their indexes)."""

    def apply(conn: Connection) -> None:
        SQLModel.metadata.create_all(conn, tables=[m.__table__ for m in models])

    return apply


def add_columns(table: str, columns: dict[str, str]) -> Callable[[Connection], None]:
    """A migration step that adds the columns (name → SQL type and default) a table lacks.
    Version 1 of a service builds its tables from the current models, so on a fresh database
    they are there already; on an older one they are added."""

    def apply(conn: Connection) -> None:
        have = {c["name"] for c in inspect(conn).get_columns(table)}
        for name, ddl in columns.items():
            if name not in have:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))

    return apply


def migrate(engine: Engine, migrations: list[Migration]) -> list[int]:
    """Apply, in order and each in its own transaction, the migrations not applied yet."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be unique and ascending: {versions}")
    SQLModel.metadata.create_all(engine, tables=[SchemaMigration.__table__])
    applied: list[int] = []
    for m in migrations:
        with engine.begin() as conn:
            done = conn.execute(
                text("SELECT 1 FROM uise_schema_migration WHERE version = :v"), {"v": m.version}
            ).first()
            if done:
                continue
            m.apply(conn)
            conn.execute(
                SchemaMigration.__table__.insert().values(
                    version=m.version, name=m.name, applied_at=utcnow()
                )
            )
            applied.append(m.version)
            log.info("migration applied", extra={"version": m.version, "migration": m.name})
    return applied
