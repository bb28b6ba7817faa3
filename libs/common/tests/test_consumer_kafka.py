"""The consumer policy on a real Kafka-protocol broker (tansu): dedupe, DLQ, retry, re-drive."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlmodel import Field, Session, SQLModel, select

from uise_common.broker import ensure_topics, make_broker
from uise_common.consumer import (
    PROCESSING_FAILED,
    ConsumerRunner,
    NotYetKnown,
    RetryPolicy,
    subscribe,
)
from uise_common.db import Migration, create_tables, make_engine, migrate
from uise_common.idempotency import ProcessedEvent, SeenCache
from uise_common.outbox import OutboxRow
from uise_common.settings import Settings
from uise_common.testing import read_topic
from uise_contracts import TOPICS, make_envelope
from uise_contracts.events import SubmissionProcessingFailed, TimelinessRecorded
from uise_contracts.topics import Topic
from uise_stack.dlq import drain

pytestmark = pytest.mark.integration


class Seen(SQLModel, table=True):
    __tablename__ = "commontest_seen"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: str


def new_topic() -> Topic:
    """A fresh submission topic (its dead-lettered events are announced, as the pipeline's are)."""
    return Topic("submission", f"commontest-{uuid.uuid4().hex[:8]}", 1, TimelinessRecorded, "participant_id",
                 ("test",), ("test",), partitions=2)


def body(sid: str) -> bytes:
    return TimelinessRecorded(submission_id=sid, participant_id="p1", form_code="F", period="2026",
                              delivered_at=datetime.now(UTC), deadline_at=None, on_time=None).model_dump_json().encode()


async def produce(bootstrap: str, topic: str, value: bytes, headers: dict[str, str], key: bytes = b"p1") -> None:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await p.start()
    try:
        await p.send_and_wait(topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()])
    finally:
        await p.stop()


async def eventually(check, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'c.db'}", "commontest")
    migrate(eng, [Migration(0, "base", create_tables(OutboxRow, ProcessedEvent, Seen))])
    return eng


def count(engine) -> list[str]:
    with Session(engine) as s:
        return [r.submission_id for r in s.exec(select(Seen))]


# Fast timings: backoff from 50 ms up to 200 ms; a transient failure gives up after 3 attempts.
FAST_RETRY = RetryPolicy(backoff_seconds=0.05, max_backoff_seconds=0.2, dlq_after_seconds=60, dlq_after_attempts=3)


async def run_consumer(bootstrap, engine, topic, handler, policy=FAST_RETRY):
    settings = Settings(kafka_bootstrap=bootstrap, service_name="commontest")
    broker = make_broker(settings)
    subscribe(broker, ConsumerRunner(service="commontest", topic=topic, handler=handler, engine=engine,
                                     broker=broker, seen=SeenCache(None, "commontest"),
                                     after_commit=lambda: None, policy=policy))
    await broker.start()
    return broker


def record_seen(event, session):
    session.add(Seen(submission_id=event.submission_id))
    return []


async def test_topics_are_created_with_their_partitions(kafka_bootstrap):
    await ensure_topics(kafka_bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics([t.name for t in TOPICS])}
        names = set(await admin.list_topics())
    finally:
        await admin.close()
    for t in TOPICS:
        assert described[t.name] == t.partitions
        assert t.dlq in names
    assert await ensure_topics(kafka_bootstrap) == []  # idempotent


async def test_same_event_twice_changes_nothing_and_malformed_goes_to_dlq(kafka_bootstrap, engine):
    topic = new_topic()
    await ensure_topics(kafka_bootstrap, (topic,))
    env = make_envelope(topic.ce_type, "urn:uise:test", "p1")
    await produce(kafka_bootstrap, topic.name, body("s1"), env.headers())
    await produce(kafka_bootstrap, topic.name, body("s1"), env.headers())  # redelivery: same ce_id
    await produce(kafka_bootstrap, topic.name, b"{not json", make_envelope(topic.ce_type, "urn:uise:test", "p1").headers())
    headless = body("s2")
    await produce(kafka_bootstrap, topic.name, headless, {"ce_id": "no-other-headers"})  # no ce_type …
    env3 = make_envelope(topic.ce_type, "urn:uise:test", "p1")
    await produce(kafka_bootstrap, topic.name, body("s3"), env3.headers())
    broker = await run_consumer(kafka_bootstrap, engine, topic, record_seen)
    try:
        await eventually(lambda: "s3" in count(engine))
        dead = await read_topic(kafka_bootstrap, topic.dlq, expect=2)
    finally:
        await broker.stop()
    assert sorted(count(engine)) == ["s1", "s3"]  # once each; the consumer went on past the bad ones
    assert len(dead) == 2
    for rec in dead:
        h = {k: v.decode() for k, v in rec.headers}
        assert h["x-original-topic"] == topic.name
        assert int(h["x-original-partition"]) in (0, 1)
        assert int(h["x-original-offset"]) >= 0
        assert h["x-error-type"] == "Malformed"
        assert h["x-consumer-group"] == f"uise-commontest.{topic.name}"
    assert sorted(rec.value for rec in dead) == sorted([b"{not json", headless])


async def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered_and_redriven(kafka_bootstrap, engine):
    topic = new_topic()
    await ensure_topics(kafka_bootstrap, (topic,))
    attempts: list[str] = []
    healthy = False

    def sometimes(event, session):
        attempts.append(event.submission_id)
        if event.submission_id == "bad" and not healthy:
            raise ConnectionError("downstream not there")
        return record_seen(event, session)

    env_bad = make_envelope(topic.ce_type, "urn:uise:test", "p1")
    await produce(kafka_bootstrap, topic.name, body("bad"), env_bad.headers())
    await produce(kafka_bootstrap, topic.name, body("good"), make_envelope(topic.ce_type, "urn:uise:test", "p1").headers())
    broker = await run_consumer(kafka_bootstrap, engine, topic, sometimes)
    try:
        await eventually(lambda: "good" in count(engine))
        dead = await read_topic(kafka_bootstrap, topic.dlq, expect=1)
        assert attempts.count("bad") == 4  # the batch's attempt, then three of its own
        h = {k: v.decode() for k, v in dead[0].headers}
        assert h["x-error-type"] == "ConnectionError" and h["x-attempts"] == "3" and h["x-failure"] == "cap"
        assert h["ce_id"] == env_bad.id
        # the fault is fixed; the operator re-drives the DLQ to the original topic
        healthy = True
        redriven = await drain(kafka_bootstrap, topic.dlq, redrive=True)
        assert [r["x-original-topic"] for r in redriven] == [topic.name]
        await eventually(lambda: "bad" in count(engine))
        assert await drain(kafka_bootstrap, topic.dlq, redrive=True, idle_ms=500) == []  # nothing twice
    finally:
        await broker.stop()
    assert sorted(count(engine)) == ["bad", "good"]


async def test_a_handler_breaking_its_own_constraint_is_dead_lettered_not_dropped(kafka_bootstrap, engine):
    """An IntegrityError at commit is a concurrent replay only when the processed-event table
    says so; a handler's own broken constraint is deterministic: dead-lettered at its first
    attempt of its own, with its reason (issue 14)."""
    topic = new_topic()
    await ensure_topics(kafka_bootstrap, (topic,))

    def clashing(event, session):
        session.add(Seen(id=1, submission_id=event.submission_id))  # the same primary key each time
        return []

    first, second = (make_envelope(topic.ce_type, "urn:uise:test", "p1") for _ in range(2))
    await produce(kafka_bootstrap, topic.name, body("one"), first.headers())
    await produce(kafka_bootstrap, topic.name, body("two"), second.headers())
    broker = await run_consumer(kafka_bootstrap, engine, topic, clashing)
    try:
        dead = await read_topic(kafka_bootstrap, topic.dlq, expect=1)
    finally:
        await broker.stop()
    assert count(engine) == ["one"]
    assert len(dead) == 1
    h = {k: v.decode() for k, v in dead[0].headers}
    assert h["ce_id"] == second.id and h["x-error-type"] == "IntegrityError"
    assert h["x-attempts"] == "1" and h["x-failure"] == "deterministic"
    with Session(engine) as s:
        assert s.get(ProcessedEvent, first.id) is not None
        assert s.get(ProcessedEvent, second.id) is None  # not recorded as processed either


def headers_of(record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def announced(bootstrap: str, submission_ids: set[str], expect: int) -> list[SubmissionProcessingFailed]:
    """The submission.processing-failed events about `submission_ids` (other tests' are there too)."""
    records = await read_topic(bootstrap, PROCESSING_FAILED.name, expect=10_000, timeout=3)
    out = [SubmissionProcessingFailed.model_validate_json(r.value) for r in records]
    out = [e for e in out if e.submission_id in submission_ids]
    assert len(out) == expect, out
    return out


async def test_a_deterministic_failure_is_dead_lettered_at_once_and_its_submission_announced(kafka_bootstrap, engine):
    """A handler's refusal (a ValueError) and a producer's contract violation go to the DLQ at
    their first attempt; each submission they concern is announced on
    submission.processing-failed for intake to reject; the messages behind them go on."""
    topic = new_topic()
    await ensure_topics(kafka_bootstrap, (topic, PROCESSING_FAILED))
    refused, violating, fine = (f"s-{uuid.uuid4().hex[:8]}" for _ in range(3))
    attempts: list[str] = []

    def refusing(event, session):
        attempts.append(event.submission_id)
        if event.submission_id == refused:
            raise ValueError("period 2026-13 is not a period")
        return record_seen(event, session)

    env_refused = make_envelope(topic.ce_type, "urn:uise:test", "p1")
    refused_body = body(refused)
    await produce(kafka_bootstrap, topic.name, refused_body, env_refused.headers())
    bad_body = json.dumps({"submission_id": violating, "participant_id": "p7"}).encode()  # fields missing
    await produce(kafka_bootstrap, topic.name, bad_body, make_envelope(topic.ce_type, "urn:uise:test", "p7").headers())
    await produce(kafka_bootstrap, topic.name, body(fine), make_envelope(topic.ce_type, "urn:uise:test", "p1").headers())
    broker = await run_consumer(kafka_bootstrap, engine, topic, refusing,
                                RetryPolicy(backoff_seconds=0.05, dlq_after_seconds=60))  # no attempts cap
    try:
        await eventually(lambda: fine in count(engine))
        dead = await read_topic(kafka_bootstrap, topic.dlq, expect=2)
    finally:
        await broker.stop()
    assert attempts.count(refused) <= 2  # the batch's attempt, then its own: never retried after that
    by_value = {r.value: headers_of(r) for r in dead}
    assert by_value[bad_body]["x-error-type"] == "Malformed" and by_value[bad_body]["x-failure"] == "deterministic"
    h = by_value[refused_body]
    assert h["x-error-type"] == "ValueError" and h["x-attempts"] == "1" and h["x-failure"] == "deterministic"
    assert "2026-13" in h["x-error-message"] and h["x-error-types"] == "ValueError"
    events = {e.submission_id: e for e in await announced(kafka_bootstrap, {refused, violating, fine}, expect=2)}
    assert set(events) == {refused, violating}
    assert events[refused].participant_id == "p1" and events[violating].participant_id == "p7"
    assert events[refused].stage == "commontest" and events[refused].topic == topic.name
    assert events[refused].event_id == env_refused.id and events[refused].reason_code == "PROCESSING_FAILED"
    assert events[refused].error_type == "ValueError" and events[refused].failure == "deterministic"
    assert events[violating].error_type == "Malformed" and events[violating].attempts == 1


async def test_the_cap_dead_letters_a_message_that_never_stops_failing_with_its_history(kafka_bootstrap, engine):
    topic = new_topic()
    await ensure_topics(kafka_bootstrap, (topic, PROCESSING_FAILED))
    sid = f"s-{uuid.uuid4().hex[:8]}"
    calls: list[str] = []

    def never_known(event, session):
        calls.append(event.submission_id)
        if len(calls) % 2:
            raise NotYetKnown(f"participant {event.participant_id}")
        raise ConnectionRefusedError(111, "object storage refused the connection")

    env = make_envelope(topic.ce_type, "urn:uise:test", "p1")
    await produce(kafka_bootstrap, topic.name, body(sid), env.headers())
    broker = await run_consumer(kafka_bootstrap, engine, topic, never_known,
                                RetryPolicy(backoff_seconds=0.05, max_backoff_seconds=0.1, dlq_after_seconds=2))
    try:
        dead = await read_topic(kafka_bootstrap, topic.dlq, expect=1)
    finally:
        await broker.stop()
    h = headers_of(dead[0])
    # its own attempts (the batch's came first), far past the old budget of 8
    assert h["x-failure"] == "cap" and int(h["x-attempts"]) == len(calls) - 1 > 8
    assert sorted(h["x-error-types"].split(",")) == ["ConnectionRefusedError", "NotYetKnown"]
    assert float(h["x-waited-seconds"]) >= 2
    first = datetime.fromisoformat(h["x-first-failure-at"])
    assert 0 <= (datetime.now(UTC) - first).total_seconds() < 60
    (event,) = await announced(kafka_bootstrap, {sid}, expect=1)
    assert event.failure == "cap" and event.attempts == len(calls) - 1


async def test_a_database_outage_waits_and_then_succeeds_with_nothing_in_the_dlq(kafka_bootstrap, postgres_url):
    """PostgreSQL behind a gate the test shuts: every attempt fails with OperationalError for
    far longer than the old retry budget; the consumer waits (and says so), commits nothing past
    the message, and processes it once the database is back."""
    from sqlalchemy.engine import make_url

    from uise_common.testing import TcpGate

    url = make_url(postgres_url)
    topic = new_topic()
    await ensure_topics(kafka_bootstrap, (topic, PROCESSING_FAILED))
    schema = f"t{uuid.uuid4().hex[:8]}"
    with TcpGate(f"{url.host or '127.0.0.1'}:{url.port or 5432}") as gate:
        engine = make_engine(url.set(host="127.0.0.1", port=gate.port).render_as_string(hide_password=False), schema)
        migrate(engine, [Migration(0, "base", create_tables(OutboxRow, ProcessedEvent, Seen))])
        settings = Settings(kafka_bootstrap=kafka_bootstrap, service_name="commontest")
        broker = make_broker(settings)
        runner = ConsumerRunner(service="commontest", topic=topic, handler=record_seen, engine=engine, broker=broker,
                                seen=SeenCache(None, "commontest"), after_commit=lambda: None,
                                policy=RetryPolicy(backoff_seconds=0.05, max_backoff_seconds=0.3, dlq_after_seconds=120))
        subscribe(broker, runner)
        await broker.start()
        try:
            gate.shut()
            sid = f"s-{uuid.uuid4().hex[:8]}"
            await produce(kafka_bootstrap, topic.name, body(sid), make_envelope(topic.ce_type, "urn:uise:t", "p1").headers())
            await eventually(lambda: runner.waiting_on is not None and runner.waiting_on.attempts > 8)
            status = runner.waiting()
            assert status.startswith(f"waiting: {topic.name} OperationalError") and runner.waiting_seconds() > 0
            gate.open()
            await eventually(lambda: runner.waiting_on is None)
        finally:
            await broker.stop()
        assert count(engine) == [sid]
        assert runner.waiting() is None and runner.waiting_seconds() == 0
        assert await read_topic(kafka_bootstrap, topic.dlq, expect=1, timeout=3) == []
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "uise_{schema}" CASCADE'))
        engine.dispose()


async def test_a_waiting_consumer_stops_promptly_and_its_message_comes_again(kafka_bootstrap, engine):
    """Waiting commits nothing past the message: a process stopped (a deploy, a SIGTERM) while
    it waits leaves the message to the next one, which processes it."""
    topic = new_topic()
    await ensure_topics(kafka_bootstrap, (topic, PROCESSING_FAILED))

    calls: list[str] = []

    def never_known(event, session):
        calls.append(event.submission_id)
        raise NotYetKnown(f"participant {event.participant_id}")

    sid = f"s-{uuid.uuid4().hex[:8]}"
    await produce(kafka_bootstrap, topic.name, body(sid), make_envelope(topic.ce_type, "urn:uise:test", "p1").headers())
    broker = make_broker(Settings(kafka_bootstrap=kafka_bootstrap, service_name="commontest"))
    runner = ConsumerRunner(service="commontest", topic=topic, handler=never_known, engine=engine, broker=broker,
                            seen=SeenCache(None, "commontest"), after_commit=lambda: None,
                            policy=RetryPolicy(backoff_seconds=0.05, max_backoff_seconds=5, dlq_after_seconds=600))
    subscribe(broker, runner)
    await broker.start()
    await eventually(lambda: runner.waiting_on is not None and runner.waiting_on.attempts >= 5)
    assert len(calls) < 12  # backing off, not spinning (the batch's attempt, then 0.05 s doubling)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await broker.stop()
    assert loop.time() - started < 5  # not FastStream's graceful 15 s, nor the 5 s sleep
    assert runner.waiting_on is None
    broker = await run_consumer(kafka_bootstrap, engine, topic, record_seen)
    try:
        await eventually(lambda: sid in count(engine))
    finally:
        await broker.stop()
    assert await read_topic(kafka_bootstrap, topic.dlq, expect=1, timeout=2) == []


def test_a_constraint_lost_to_a_concurrent_writer_is_tried_again_not_dead_lettered(engine):
    """Another consumer of the service commits the same key between this handler's read and its
    insert: a fresh transaction sees that row and takes the other branch."""
    from types import SimpleNamespace

    from uise_common.consumer import Delivery

    def insert_once(event, session):
        if session.get(Seen, 1) is None:
            with Session(engine) as other:  # the other consumer, committing meanwhile
                if other.get(Seen, 1) is None:
                    other.add(Seen(id=1, submission_id="theirs"))
                    other.commit()
            session.add(Seen(id=1, submission_id=event.submission_id))
        return []

    runner = ConsumerRunner(service="commontest", topic=new_topic(), handler=insert_once, engine=engine,
                            broker=None, seen=SeenCache(None, "t"), after_commit=lambda: None, policy=RetryPolicy())
    env = make_envelope(runner.topic.ce_type, "urn:uise:test", "p1")
    record = SimpleNamespace(topic=runner.topic.name, partition=0, offset=0, key=b"p1", value=b"", headers=[])
    event = TimelinessRecorded.model_validate_json(body("mine"))
    assert runner.apply(Delivery(record, env.headers(), b"", env, event)) is True
    assert count(engine) == ["theirs"]
    with Session(engine) as s:
        assert s.get(ProcessedEvent, env.id) is not None


async def test_seen_cache_on_real_redis(redis_url):
    from redis.asyncio import Redis

    r = Redis.from_url(redis_url)
    cache = SeenCache(r, f"t{uuid.uuid4().hex[:6]}")
    assert await cache.seen_many(["e1", "e2"]) == set()
    await cache.mark_many(["e1"])
    assert await cache.seen_many(["e1", "e2"]) == {"e1"}
    assert 0 < await r.ttl(cache.prefix + "e1") <= 7 * 24 * 3600
    await r.aclose()
    dead = SeenCache(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2), "x")
    assert await dead.seen_many(["e1"]) == set()  # Redis down: fall through to the database, no crash
    await dead.mark_many(["e1"])


def test_malformed_detection_is_specific():
    from uise_common.consumer import Malformed, decode

    topic = TOPICS[0]
    env = make_envelope(topic.ce_type, "urn:uise:test", "x")
    with pytest.raises(Malformed):
        decode(topic, env.headers(), b"[]")
    with pytest.raises(Malformed):
        decode(topic, {}, json.dumps({}).encode())


def test_only_a_submission_topic_s_dead_letters_are_announced():
    """A consolidation's or a violation's submission_id refers to a submission without being a
    step on its way; processing-failed itself is never announced again (no loop)."""
    from uise_contracts.topics import BY_NAME

    def runner(name: str) -> ConsumerRunner:
        return ConsumerRunner(service="t", topic=BY_NAME[name], handler=record_seen, engine=None, broker=None,
                              seen=SeenCache(None, "t"), after_commit=lambda: None, policy=RetryPolicy())

    assert runner("uise.submission.received.v1").announces
    assert runner("uise.submission.accepted.v1").announces
    for name in ("uise.consolidation.due.v1", "uise.deadline.violation.v1", "uise.participant.upserted.v1",
                 PROCESSING_FAILED.name):
        assert not runner(name).announces, name
