"""/metrics of a real service runtime (tansu, Redis, SQLite): consumer outcomes, processing time
and lag, the outbox relay's publishes and backlog, HTTP requests by route template, a service's
counted gauges; and the outbox figures on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func
from sqlmodel import Field, Session, SQLModel, select

from uise_common import metrics
from uise_common.auth import public
from uise_common.broker import ensure_topics
from uise_common.consumer import NotYetKnown
from uise_common.db import Migration, create_tables, migrate
from uise_common.idempotency import ProcessedEvent
from uise_common.outbox import OutboxRow, add_event
from uise_common.service import ServiceRuntime, ServiceSpec
from uise_common.settings import Settings
from uise_contracts import make_envelope
from uise_contracts.events import TimelinessRecorded
from uise_contracts.topics import Topic, topic_for

IIN = "900101300011"


class Handled(SQLModel, table=True):
    __tablename__ = "metricstest_handled"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: str


def event(sid: str) -> TimelinessRecorded:
    return TimelinessRecorded(submission_id=sid, participant_id="p1", form_code="F", period="2026",
                              delivered_at=datetime.now(UTC), deadline_at=None, on_time=None)


def scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value}"""
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert IIN not in resp.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def wait_for(client: TestClient, check, what: str, timeout: float = 60.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        samples = scrape(client)
        if check(samples):
            return samples
        if time.monotonic() > end:
            raise AssertionError(f"{what} not seen in /metrics:\n" + "\n".join(
                f"{n}{dict(ls)} {v}" for (n, ls), v in sorted(samples.items()) if n.startswith("uise_")))
        time.sleep(0.2)


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> None:
    """One record batch on partition 0: a consumer's fetch sees all of it or none (its high
    watermark then counts them all)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        batch = producer.create_batch()
        for body, headers in messages:
            batch.append(key=b"p1", value=body, timestamp=None,
                         headers=[(k, v.encode()) for k, v in headers.items()])
        await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()


@pytest.mark.integration
def test_a_running_service_counts_what_it_consumes_publishes_and_serves(kafka_bootstrap, redis_url, tmp_path):
    service = f"metricstest{uuid.uuid4().hex[:6]}"
    topic = Topic("metricstest", f"e{uuid.uuid4().hex[:8]}", 1, TimelinessRecorded, "participant_id",
                  ("test",), ("test",), partitions=2)
    asyncio.run(ensure_topics(kafka_bootstrap))
    asyncio.run(ensure_topics(kafka_bootstrap, (topic,)))
    # s1 waits on the topic before the service starts; the handler holds it while s2, s2 again
    # (same id) and a message that is not JSON arrive behind it, so the test sees a lag of three.
    # Then s2's first attempt fails.
    first, second = (make_envelope(topic.ce_type, "urn:uise:test", "p1") for _ in range(2))
    asyncio.run(produce(kafka_bootstrap, topic.name, [(event("s1").model_dump_json().encode(), first.headers())]))
    behind = [
        (event("s2").model_dump_json().encode(), second.headers()),
        (event("s2").model_dump_json().encode(), second.headers()),
        (b"{not json", make_envelope(topic.ce_type, "urn:uise:test", "p1").headers()),
    ]
    release = threading.Event()
    failed_once: list[str] = []

    def handler(ev: TimelinessRecorded, session: Session) -> list:
        if ev.submission_id == "s1":
            release.wait(60)
        if ev.submission_id == "s2" and not failed_once:
            failed_once.append("s2")
            raise RuntimeError("a transient failure")
        session.add(Handled(submission_id=ev.submission_id))
        return [event(f"{ev.submission_id}-out")]

    def router(_rt: ServiceRuntime) -> APIRouter:
        r = APIRouter()

        @r.get("/v1/things/{thing_id}", dependencies=[Depends(public("a test route"))])
        async def thing(thing_id: str) -> dict:
            return {"id": thing_id}

        return r

    def handled(session: Session) -> dict[str, float]:
        return {"received": float(session.exec(select(func.count()).select_from(Handled)).one())}

    spec = ServiceSpec(name=service, migrations=[Migration(1, "handled", create_tables(Handled))],
                       consumers=lambda _rt: {topic: handler}, router=router,
                       gauges={metrics.SUBMISSIONS: handled})
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap, redis_url=redis_url,
                        dlq_after_attempts=3, retry_backoff_seconds=0.05)
    runtime = ServiceRuntime(spec, settings)
    out_topic = topic_for(TimelinessRecorded).name
    try:
        with TestClient(runtime.app()) as client:
            assert client.get(f"/v1/things/{IIN}").status_code == 200
            assert client.get(f"/nowhere/{IIN}").status_code == 404
            wait_for(client, lambda s: value(s, "uise_consumer_messages_total", service=service, topic=topic.name,
                                             outcome="received") == 1, "s1 in its handler")
            asyncio.run(produce(kafka_bootstrap, topic.name, behind))
            wait_for(client, lambda s: value(s, "uise_consumer_lag", service=service, topic=topic.name) == 3,
                     "the lag of three messages behind the held one")
            release.set()

            def settled(s: dict) -> bool:
                return (value(s, "uise_consumer_messages_total", service=service, topic=topic.name,
                              outcome="dead_lettered") == 1
                        and value(s, "uise_outbox_published_total", service=service, topic=out_topic) == 2
                        and value(s, "uise_consumer_lag", service=service, topic=topic.name) == 0)

            samples = wait_for(client, settled, "every message handled and its events published")
    finally:
        release.set()
        runtime.engine.dispose()

    def messages(outcome: str) -> float | None:
        return value(samples, "uise_consumer_messages_total", service=service, topic=topic.name, outcome=outcome)

    assert {o: messages(o) for o in metrics.OUTCOMES} == {
        "received": 4, "processed": 2, "duplicate": 1, "failed": 1, "dead_lettered": 1}
    assert value(samples, "uise_consumer_processing_seconds_count", service=service, topic=topic.name) == 4
    assert value(samples, "uise_consumer_processing_seconds_bucket", service=service, topic=topic.name,
                 le="+Inf") == 4
    assert value(samples, "uise_outbox_backlog", service=service) == 0
    assert value(samples, "uise_outbox_oldest_unsent_seconds", service=service) == 0
    assert value(samples, "uise_submissions", state="received") == 2
    # by the route's template; the path's identifier is nowhere (scrape() checks the whole text)
    assert value(samples, "uise_http_requests_total", service=service, method="GET",
                 route="/v1/things/{thing_id}", status="200") == 1
    assert value(samples, "uise_http_requests_total", service=service, method="GET",
                 route="unmatched", status="404") == 1
    assert value(samples, "uise_http_request_duration_seconds_count", service=service, method="GET",
                 route="/v1/things/{thing_id}") == 1
    # probes and scrapes are not requests
    assert not [k for k in samples if k[0] == "uise_http_requests_total" and ("route", "/metrics") in k[1]]


@pytest.mark.integration
def test_a_consumer_waiting_on_a_lagging_read_model_says_so_and_then_goes_on(kafka_bootstrap, redis_url, tmp_path):
    """NotYetKnown far past the old retry budget (8 attempts, ~26 s; here its timings are made
    fast): the consumer waits without dead-lettering, /readyz and the waiting gauge say on what,
    and once the reference data is there the message is processed and the gauge is back to 0."""
    service = f"waittest{uuid.uuid4().hex[:6]}"
    topic = Topic("metricstest", f"e{uuid.uuid4().hex[:8]}", 1, TimelinessRecorded, "participant_id",
                  ("test",), ("test",), partitions=1)
    asyncio.run(ensure_topics(kafka_bootstrap, (topic,)))
    known = threading.Event()

    def handler(ev: TimelinessRecorded, session: Session) -> list:
        if not known.is_set():
            raise NotYetKnown(f"participant {ev.participant_id}")
        session.add(Handled(submission_id=ev.submission_id))
        return []

    spec = ServiceSpec(name=service, migrations=[Migration(1, "handled", create_tables(Handled))],
                       consumers=lambda _rt: {topic: handler})
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap, redis_url=redis_url,
                        retry_backoff_seconds=0.05, retry_max_backoff_seconds=0.2, dlq_after_seconds=300)
    runtime = ServiceRuntime(spec, settings)
    labels = {"service": service, "topic": topic.name}
    try:
        with TestClient(runtime.app()) as client:
            env = make_envelope(topic.ce_type, "urn:uise:test", "p1")
            asyncio.run(produce(kafka_bootstrap, topic.name, [(event("s1").model_dump_json().encode(), env.headers())]))
            samples = wait_for(client, lambda s: (value(s, "uise_consumer_waiting_seconds", **labels) or 0) > 2
                               and value(s, "uise_consumer_messages_total", outcome="failed", **labels) > 8,
                               "the consumer waiting on NotYetKnown")
            (status,) = client.get("/readyz").json()["waiting"]
            assert status.startswith(f"waiting: {topic.name} NotYetKnown: participant p1 (for ")
            known.set()
            samples = wait_for(client, lambda s: value(s, "uise_consumer_messages_total", outcome="processed",
                                                       **labels) == 1, "the message processed")
            assert value(samples, "uise_consumer_waiting_seconds", **labels) == 0
            assert value(samples, "uise_consumer_messages_total", outcome="dead_lettered", **labels) == 0
            assert client.get("/readyz").json()["waiting"] == []
    finally:
        known.set()
        runtime.engine.dispose()


def test_each_runtime_has_its_own_registry_and_every_name_is_catalogued(tmp_path):
    apps = []
    for name in ("alpha", "beta"):
        spec = ServiceSpec(name=name, migrations=[])
        runtime = ServiceRuntime(spec, Settings(data_dir=tmp_path / name, kafka_bootstrap="127.0.0.1:1"))
        migrate(runtime.engine, [Migration(0, "outbox", create_tables(OutboxRow, ProcessedEvent))])
        apps.append(TestClient(runtime.app()))
    alpha, beta = apps
    alpha.get("/nowhere")
    a, b = scrape(alpha), scrape(beta)
    assert value(a, "uise_http_requests_total", service="alpha", method="GET", route="unmatched", status="404") == 1
    assert not [k for k in b if k[0] == "uise_http_requests_total"]
    assert value(b, "uise_outbox_backlog", service="beta") == 0
    names = {n for n, _ in a} | {n for n, _ in b}
    for name in names:
        base = next((name.removesuffix(s) for s in metrics.HISTOGRAM_SUFFIXES
                     if name.removesuffix(s) in metrics.CATALOGUE), name)
        assert base in metrics.CATALOGUE, name


@pytest.fixture
def engine(outbox_engine):
    return outbox_engine


def test_the_outbox_backlog_the_age_of_its_oldest_row_and_the_rows_set_aside(engine):
    m = metrics.ServiceMetrics("metricstest", engine=engine)
    with Session(engine) as s:
        assert m.outbox_figures(s) == (0, 0.0, 0)
        for n in range(4):
            add_event(s, event(f"s{n}"), "metricstest")
        s.commit()
        rows = list(s.exec(select(OutboxRow).order_by(OutboxRow.id)))
        rows[0].created_at = datetime.now(UTC) - timedelta(minutes=10)
        rows[1].sent_at = datetime.now(UTC)
        # set aside: neither waiting (it would hold the oldest age up forever) nor sent
        rows[3].created_at = datetime.now(UTC) - timedelta(hours=5)
        rows[3].set_aside_at, rows[3].set_aside_reason = datetime.now(UTC), "TOO_LARGE: test"
        for row in (rows[0], rows[1], rows[3]):
            s.add(row)
        s.commit()
    with Session(engine) as s:
        backlog, oldest, aside = m.outbox_figures(s)
    assert (backlog, aside) == (2, 1)
    assert 600 <= oldest < 900
