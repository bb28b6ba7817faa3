"""The fault suite's stacks (`make test-faults`): the embedded stack of its own, once on SQLite and
once on a scratch PostgreSQL database, with the services reaching object storage and PostgreSQL
through TCP gates (uise_common.testing.TcpGate) that a test shuts for an outage and opens again.
The broker keeps its log on the same S3 server but reaches it directly, so an outage of the
services' object storage leaves the broker up, as in production (a broker of its own).

Each run's table of counts is printed at the end of the session, in CI's log, pass or fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from uise_common.testing import TcpGate, scratch_postgres
from uise_stack.client import another_stack
from uise_stack.config import SERVICES, StackConfig
from uise_stack.stack import Stack

_TABLES: list[list[str]] = []
ARTIFACTS = Path(os.environ.get("UISE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))


@dataclass
class FaultyStack:
    stack: Stack
    storage: TcpGate  # the services' way to object storage
    database: TcpGate | None  # their way to PostgreSQL (None on SQLite: a file has no outage)

    @property
    def engine(self) -> str:
        return "SQLite" if self.database is None else "PostgreSQL"


@pytest.fixture(params=["sqlite", "postgresql"])
def faulty(request, tmp_path_factory) -> Iterator[FaultyStack]:
    base = tmp_path_factory.mktemp(f"faults-{request.param}")
    with another_stack():
        if request.param == "sqlite":
            yield from _started(base, None)
        else:
            with scratch_postgres("uise_faults") as url:
                yield from _started(base, url)


def _started(base, database_url: str | None) -> Iterator[FaultyStack]:
    config = StackConfig.ephemeral(base, database_url=None, redis_url=None)
    storage = TcpGate(config.s3_endpoint)
    config.extra_env = {s: {"UISE_S3_ENDPOINT": f"127.0.0.1:{storage.port}"} for s in SERVICES}
    database = None
    if database_url:
        real = make_url(database_url)
        database = TcpGate(f"{real.host or '127.0.0.1'}:{real.port or 5432}")
        config.database_url = real.set(host="127.0.0.1", port=database.port).render_as_string(hide_password=False)
    stack = Stack(config)
    with storage, database or nullcontext():
        stack.start()
        try:
            yield FaultyStack(stack, storage, database)
        finally:
            stack.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.failed and "faulty" in item.fixturenames:
        # the stack's directory is temporary: its logs (every process's) go where CI keeps artifacts
        faulty = item.funcargs.get("faulty")
        if faulty is not None:
            kept = ARTIFACTS / "faults" / faulty.engine
            shutil.copytree(faulty.stack.config.log_dir, kept, dirs_exist_ok=True)
            report.sections.append(("fault suite", f"the stack's logs are kept in {kept}"))


@pytest.fixture
def fault_table():
    """`fault_table(lines)`: a run's counts, printed in the session's summary."""
    return _TABLES.append


def pytest_terminal_summary(terminalreporter) -> None:
    if not _TABLES:
        return
    terminalreporter.section("fault suite: counts")
    for lines in _TABLES:
        for line in lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line("")
