"""A UISE service process: FastAPI at the edge with /healthz, /readyz and /metrics, a FastStream Kafka
broker with its consumers, the outbox relay, migrations at start-up, telemetry and JSON logs.

A service describes itself with a `ServiceSpec`; `ServiceRuntime` wires the parts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import Session

from uise_common import clock, http, metrics
from uise_common.auth import Authenticator, public, secure
from uise_common.broker import make_broker
from uise_common.claimcheck import ClaimCheck
from uise_common.clock import Clock
from uise_common.consumer import ConsumerRunner, Handler, RetryPolicy, subscribe
from uise_common.db import (
    Migration,
    add_columns,
    create_tables,
    database_url,
    make_engine,
    migrate,
    one_writer,
)
from uise_common.idempotency import ProcessedEvent, SeenCache
from uise_common.logs import setup_logging
from uise_common.objectstore import ObjectStore
from uise_common.outbox import SET_ASIDE_COLUMNS, OutboxRelay, OutboxRow, RelayLease, add_event
from uise_common.readmodel import ReadModel
from uise_common.reads import DocumentRead
from uise_common.redis import make_redis
from uise_common.retention import prune_forever
from uise_common.settings import Settings
from uise_common.telemetry import setup_telemetry
from uise_contracts.topics import Topic

log = logging.getLogger(__name__)
T = TypeVar("T")

COMMON_MIGRATION = Migration(0, "outbox and processed events", create_tables(OutboxRow, ProcessedEvent))
# Later steps of the common tables. A service's own steps count from 1 in the same version table,
# so these take versions from 1,000,001 up: they run after the service's steps and never collide
# with them. On a fresh database version 0 makes the tables as the models are now, and these find
# nothing to add.
COMMON_LATER_MIGRATIONS = [
    Migration(1_000_001, "outbox rows set aside", add_columns("uise_outbox", SET_ASIDE_COLUMNS)),
    # Every service has the table, whether or not it hands out documents: one step for all, and an
    # empty table costs nothing. Intake's own step 8 made it first and moved its older reads in.
    Migration(1_000_002, "document reads audited (uise_common.reads)", create_tables(DocumentRead)),
]


def with_common(migrations: list[Migration]) -> list[Migration]:
    """A service's migrations with the common tables' steps around them, in the order they run."""
    return [COMMON_MIGRATION, *migrations, *COMMON_LATER_MIGRATIONS]


@dataclass
class ServiceSpec:
    name: str
    migrations: list[Migration]
    # built once the runtime exists, so handlers can close over its object store; from its
    # `settings`, `store`, `clock` and `engine` only: a replay builds them from a stand-in
    # (uise_common.replay.ReplayRuntime)
    consumers: Callable[[ServiceRuntime], dict[Topic, Handler]] = lambda _rt: {}
    # What the consumers build from the topics, what a replay seeds from the live database, and
    # what the comparison of a replay with live leaves out (uise_common.readmodel); None for a
    # service that consumes nothing.
    read_model: ReadModel | None = None
    router: Callable[[ServiceRuntime], APIRouter] | None = None
    uses_object_store: bool = False
    description: str = ""
    # The chain from a participant up to the Ministry (itself first), from the service's own read
    # model: what route policies check a caller's subtree against.
    hierarchy: Callable[[Session, str], list[str]] | None = None
    # The identity service verifies its own tokens from its own keys rather than over HTTP.
    local_jwks: Callable[[ServiceRuntime], Callable[[], Any]] | None = None
    # Work after the migrations and before serving (in a worker thread), e.g. identity's first key.
    on_start: Callable[[ServiceRuntime], None] | None = None
    # A loop that runs beside the consumers while the service lives, e.g. deadline's timers.
    background: Callable[[ServiceRuntime], Any] | None = None
    # Gauges counted from the service's own tables at each scrape of /metrics, e.g. intake's
    # {metrics.SUBMISSIONS: submissions_by_state} (uise_common.metrics).
    gauges: metrics.CountedGauges = field(default_factory=dict)


class KafkaHealth:
    """Is the broker reachable? Cached briefly so a burst of requests costs one round trip."""

    def __init__(self, broker: Any, ttl: float, timeout: float) -> None:
        self.broker = broker
        self.ttl = ttl
        self.timeout = timeout
        self._at = 0.0
        self._ok = False
        self._lock = asyncio.Lock()

    async def ok(self) -> bool:
        async with self._lock:
            if time.monotonic() - self._at > self.ttl:
                try:
                    self._ok = bool(await self.broker.ping(timeout=self.timeout))
                except Exception:
                    self._ok = False
                self._at = time.monotonic()
            return self._ok


class ServiceRuntime:
    def __init__(self, spec: ServiceSpec, settings: Settings | None = None) -> None:
        self.spec = spec
        self.settings = settings or Settings(service_name=spec.name)
        self.settings.service_name = spec.name
        setup_logging(spec.name, self.settings.log_level)
        self.tracer_provider, self.meter_provider = setup_telemetry(self.settings)
        self.clock = Clock.from_settings(self.settings)
        clock.install(self.clock)
        self.engine = make_engine(database_url(self.settings, spec.name), spec.name)
        self.broker = make_broker(self.settings, self.tracer_provider, self.meter_provider)
        self.redis = make_redis(self.settings)
        self.store = ObjectStore.from_settings(self.settings) if spec.uses_object_store else None
        self.claims = ClaimCheck(self.store) if self.store is not None else None
        self.relay = OutboxRelay(self.engine, self._publish, lease=RelayLease(self.redis, spec.name),
                                 max_record_bytes=self.settings.outbox_max_record_bytes)
        self.metrics = metrics.ServiceMetrics(spec.name, engine=self.engine, broker=self.broker, gauges=spec.gauges)
        metrics.attach(self.relay, self.metrics)
        self.authenticator = Authenticator.from_settings(
            self.settings, self.redis, spec.local_jwks(self) if spec.local_jwks else None)
        self.kafka_health = KafkaHealth(self.broker, self.settings.kafka_ping_seconds,
                                        self.settings.kafka_ping_timeout_seconds)
        policy = RetryPolicy.from_settings(self.settings)
        seen = SeenCache(self.redis, spec.name)
        self.runners: list[ConsumerRunner] = []
        for topic, handler in spec.consumers(self).items():
            runner = ConsumerRunner(
                service=spec.name, topic=topic, handler=handler, engine=self.engine,
                broker=self.broker, seen=seen, after_commit=self.relay.wake, policy=policy, claims=self.claims,
            )
            metrics.attach(runner, self.metrics, topic.name)
            subscribe(self.broker, runner)
            self.runners.append(runner)

    async def in_transaction(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one database transaction off the event loop, commit, then wake the
        relay for any events it queued with `emit`."""

        def run() -> T:
            # objects handed back stay readable after the commit (routes render them)
            with one_writer(self.engine), Session(self.engine, expire_on_commit=False) as session:
                result = work(session)
                session.commit()
                return result

        result = await asyncio.to_thread(run)
        self.relay.wake()
        return result

    async def read(self, work: Callable[[Session], T]) -> T:
        """Run a read-only `work` off the event loop."""

        def run() -> T:
            with Session(self.engine) as session:
                return work(session)

        return await asyncio.to_thread(run)

    def emit(self, session: Session, event: BaseModel) -> None:
        add_event(session, event, self.spec.name, claims=self.claims)

    async def _publish(self, body: bytes, topic: str, key: bytes, headers: dict[str, str]) -> Awaitable[object]:
        # queued, not awaited: the relay awaits a whole batch's acknowledgements together
        return await self.broker.publish(body, topic, key=key, headers=headers, no_confirm=True)

    async def readiness(self) -> dict[str, bool]:
        checks = {"kafka": await self.kafka_health.ok()}
        try:
            await asyncio.to_thread(self._db_ping)
            checks["database"] = True
        except Exception:
            checks["database"] = False
        if self.store is not None:
            try:
                checks["object_store"] = await asyncio.to_thread(self.store.ping)
            except Exception:
                checks["object_store"] = False
        return checks

    def _db_ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_app: FastAPI):
            await asyncio.to_thread(migrate, self.engine, with_common(self.spec.migrations))
            if self.spec.on_start is not None:
                await asyncio.to_thread(self.spec.on_start, self)
            if self.store is not None:
                await asyncio.to_thread(self.store.ensure_bucket)
            await self.broker.start()
            self.relay.start()
            loop = asyncio.create_task(self.spec.background(self)) if self.spec.background else None
            pruning = asyncio.create_task(prune_forever(self.engine, self.settings.retention_days), name="prune")
            log.info("service started", extra={"port": self.settings.http_port})
            try:
                yield
            finally:
                if loop is not None:
                    loop.cancel()
                pruning.cancel()
                await self.relay.stop()
                await self.broker.stop()
                self.tracer_provider.shutdown()
                self.meter_provider.shutdown()

        app = FastAPI(
            title=f"UISE {self.spec.name}", description=self.spec.description, version="1",
            lifespan=lifespan,
        )
        http.install(app, self.spec.name)

        @app.get("/healthz", tags=["ops"], dependencies=[Depends(public("liveness, for orchestrators"))])
        async def healthz() -> dict[str, str]:
            return {"status": "alive", "service": self.spec.name}

        @app.get("/readyz", tags=["ops"], dependencies=[Depends(public("readiness, for orchestrators"))])
        async def readyz() -> JSONResponse:
            checks = await self.readiness()
            ok = all(checks.values())
            # Consumers waiting on a transient failure (uise_common.failures) are reported, not
            # counted against readiness: the HTTP side may well serve meanwhile, and taking the
            # pod out of its Service would not end the outage.
            waiting = [w for r in self.runners if (w := r.waiting())]
            return JSONResponse({"ready": ok, "checks": checks, "waiting": waiting}, status_code=200 if ok else 503)

        metrics.install(app, self.metrics, tags=["ops"],
                        dependencies=[Depends(public("Prometheus metrics, for the scraper inside the cluster"))])

        if self.spec.router is not None:
            app.include_router(self.spec.router(self))
        secure(app, self.authenticator, self._ancestors if self.spec.hierarchy else None)
        return app

    async def _ancestors(self, participant_id: str) -> list[str]:
        return await self.read(lambda s: self.spec.hierarchy(s, participant_id))


def run(spec: ServiceSpec) -> None:
    runtime = ServiceRuntime(spec)
    uvicorn.run(runtime.app(), host=runtime.settings.http_host, port=runtime.settings.http_port,
                log_config=None, access_log=False)
