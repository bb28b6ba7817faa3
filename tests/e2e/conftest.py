"""One embedded stack for the end-to-end tests: real tansu, moto S3, Valkey, SQLite, and the
eight service processes, on free ports in a temporary directory. The data office enters the demo
hierarchy with the credential the stack's ops command made; every demo head signs in with the
EDS when a test first acts for its organization."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from uise_stack.config import StackConfig
from uise_stack.demo import seed_registry, sign_in_heads
from uise_stack.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    # UISE_DATABASE_URL / REDIS_URL from the environment would point the stack elsewhere;
    # the e2e run is about the embedded default.
    config = StackConfig.ephemeral(
        tmp_path_factory.mktemp("stack"), database_url=None, redis_url=None,
        extra_env={
            # the NCA RK test certificates carry identifiers without a valid control digit
            "registry": {"UISE_REGISTRY_TEST_IDENTIFIERS": "true"},
            # the tests play one school posting the 60-case hostile corpus within seconds: its
            # rate limit is off here (intake's own tests cover it on a real server); the limit
            # on uploads at once stays, and test_intake_paths meets it
            "intake": {"UISE_INTAKE_PARTICIPANT_UPLOADS_PER_MINUTE": "0"}})
    s = Stack(config)
    s.start()
    try:
        seed_registry(config.url("registry"))
        sign_in_heads(s.prepare_pki())
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
