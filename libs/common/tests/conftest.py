"""Real infrastructure for the adapter tests: a tansu broker and a moto S3 server started here,
PostgreSQL and Redis as the machine runs them (`.ci/run` starts them when they are down)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from uise_common.testing import free_port, tansu_in_memory

POSTGRES_URL = os.environ.get("UISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("UISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not open port {port}")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with tansu_in_memory() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "moto S3 server")
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


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
