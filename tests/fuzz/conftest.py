"""Real parts for the fuzz tests: each service as it runs (its own app factory and consumers, a
SQLite database of its own, real Redis, moto's S3 API, a tansu broker of its own), its read
model holding the demo hierarchy and the year's approved list of forms, and tokens for each
role from a stand-in identity provider."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlmodel import Session, select

from uise_common.auth import DATA_OFFICE, HEAD, OFFICER, OPS
from uise_common.db import migrate
from uise_common.outbox import OutboxRow
from uise_common.service import ServiceRuntime, with_common
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, moto_s3, run_handler, serve_without_lifespan
from uise_contracts.topics import BY_NAME, Topic
from uise_registry.demo import DISTRICT, SCHOOLS
from uise_stack.demo import enter_demo

REDIS_URL = os.environ.get("UISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ISSUER = TokenIssuer()
SCHOOL = next(iter(SCHOOLS))


@dataclass(frozen=True)
class Caller:
    """Who the fuzzer is: a role acting for a participant, or nobody (no token)."""

    name: str
    role: str | None = None
    participant_id: str | None = None
    level: str | None = None

    def headers(self) -> dict[str, str]:
        return ISSUER.headers(self.role, self.participant_id, self.level, ttl=3600) if self.role else {}


CALLERS = (
    Caller("anonymous"),
    Caller("school head", HEAD, SCHOOL, "organization"),
    Caller("district officer", OFFICER, DISTRICT, "district"),
    Caller("data office", DATA_OFFICE),
    Caller("ops", OPS),
)


class World:
    """Builds services on the session's real parts, with what the registry said about the demo."""

    def __init__(self, s3: str, demo_events: list[tuple[Topic, BaseModel]]) -> None:
        self.s3 = s3
        self.demo_events = demo_events
        self.callers = CALLERS

    def runtime(self, service: str, data_dir: Path, kafka: str, **overrides) -> ServiceRuntime:
        """The service as its entrypoint builds it, migrated, its tokens verified against
        ISSUER's keys, its read model holding the demo (from its own handlers)."""
        spec = importlib.import_module(f"uise_{service}.entrypoint").SPEC
        rt = ServiceRuntime(spec, Settings(service_name=service, data_dir=data_dir, kafka_bootstrap=kafka,
                                           s3_endpoint=self.s3, s3_bucket=f"fuzz-{service}", redis_url=REDIS_URL,
                                           **overrides))
        rt.authenticator = ISSUER.authenticator(rt.redis)
        migrate(rt.engine, with_common(spec.migrations))
        self.hear(rt, self.demo_events)
        return rt

    @staticmethod
    def hear(rt: ServiceRuntime, events: list[tuple[Topic, BaseModel]]) -> int:
        """Hand `events` to the service's own handlers of their topics, as its consumers would
        (one committed transaction each); how many it read."""
        handlers = {topic.name: handler for topic, handler in rt.spec.consumers(rt).items()}
        heard = 0
        for topic, event in events:
            if topic.name in handlers:
                run_handler(rt.engine, handlers[topic.name], event)
                heard += 1
        return heard


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def redis_ok() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.fail(f"Redis is required at {REDIS_URL} (start it, or set UISE_TEST_REDIS_URL): {exc}")


@pytest.fixture(scope="session")
def demo_events(tmp_path_factory) -> list[tuple[Topic, BaseModel]]:
    """The events the registry publishes when the data office enters the demo hierarchy and
    approves the year's list (as `make run` does), read from its outbox."""
    from uise_registry.entrypoint import SPEC

    rt = ServiceRuntime(SPEC, Settings(service_name="registry", data_dir=tmp_path_factory.mktemp("registry"),
                                       kafka_bootstrap="127.0.0.1:1"))
    rt.authenticator = ISSUER.authenticator()
    migrate(rt.engine, with_common(SPEC.migrations))
    with serve_without_lifespan(rt.app()) as http:
        http.headers.update(ISSUER.headers(DATA_OFFICE))
        enter_demo(http)
    with Session(rt.engine) as s:
        rows = s.exec(select(OutboxRow).order_by(OutboxRow.id)).all()
        events = [(BY_NAME[r.topic], BY_NAME[r.topic].model.model_validate_json(r.body)) for r in rows]
    rt.engine.dispose()
    assert events, "the registry published nothing for the demo"
    return events


@pytest.fixture(scope="session")
def world(s3_endpoint, redis_ok, demo_events) -> World:
    return World(s3_endpoint, demo_events)

