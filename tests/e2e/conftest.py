"""One embedded stack for the end-to-end tests: real tansu, moto S3, Valkey, SQLite, and the
seven service processes, on free ports in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from uise_stack.config import StackConfig
from uise_stack.demo import seed_registry
from uise_stack.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    # UISE_DATABASE_URL / REDIS_URL from the environment would point the stack elsewhere;
    # the e2e run is about the embedded default.
    config = StackConfig.ephemeral(tmp_path_factory.mktemp("stack"), database_url=None, redis_url=None)
    s = Stack(config)
    s.start()
    try:
        seed_registry(config.url("registry"))
        yield s
    finally:
        s.stop()
        left = [name for name, proc in s.procs.items() if proc.alive()]
        assert not left, f"still running after stop: {left}"


@pytest.fixture(scope="session")
def ca(stack):
    return stack.prepare_pki()


@pytest.fixture(scope="session")
def intake(stack) -> str:
    return stack.config.url("intake")

