"""Real infrastructure for the adapter tests: a tansu broker and a moto S3 server started here,
PostgreSQL and Redis as the machine runs them (`.ci/run` starts them when they are down)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from uise_common.testing import moto_s3, tansu_in_memory

POSTGRES_URL = os.environ.get("UISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("UISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with tansu_in_memory() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def postgres_url() -> str:
    from sqlalchemy import create_engine, text

    try:
        with create_engine(POSTGRES_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} (start it, or set UISE_TEST_POSTGRES_URL): {exc}")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.fail(f"Redis is required at {REDIS_URL} (start it, or set UISE_TEST_REDIS_URL): {exc}")
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def outbox_engine(request, tmp_path):
    """An engine with just the common tables (outbox, processed events), on SQLite and on
    PostgreSQL (its own schema, dropped after)."""
    import uuid

    from sqlalchemy import text

    from uise_common.db import Migration, create_tables, make_engine, migrate
    from uise_common.idempotency import ProcessedEvent
    from uise_common.outbox import OutboxRow

    schema_of = f"t{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'common.db'}", schema_of)
    else:
        eng = make_engine(request.getfixturevalue("postgres_url"), schema_of)
    migrate(eng, [Migration(0, "outbox", create_tables(OutboxRow, ProcessedEvent))])
    yield eng
    if request.param == "postgresql":
        with eng.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "uise_{schema_of}" CASCADE'))
    eng.dispose()
