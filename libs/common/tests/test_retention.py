"""Sent outbox rows and processed-event ids are pruned after the retention window; inside it a
redelivery is still deduplicated, and so is a replay of the topic from offset zero through the
broker; unsent rows are never pruned. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer
from sqlmodel import Session, select

from uise_common.broker import ensure_topics, make_broker
from uise_common.consumer import ConsumerRunner, Delivery, RetryPolicy, subscribe
from uise_common.idempotency import ProcessedEvent, SeenCache
from uise_common.outbox import OutboxRow, add_event
from uise_common.retention import prune
from uise_common.settings import Settings
from uise_contracts import make_envelope
from uise_contracts.events import TimelinessRecorded
from uise_contracts.topics import BY_NAME, Topic

NOW = datetime.now(UTC)
TOPIC = BY_NAME["uise.submission.timeliness-recorded.v1"]


@pytest.fixture
def engine(outbox_engine):
    return outbox_engine


def event(sid: str) -> TimelinessRecorded:
    return TimelinessRecorded(submission_id=sid, participant_id="p1", form_code="F", period="2026",
                              delivered_at=NOW, deadline_at=None, on_time=None)


def test_pruning_keeps_the_window_and_every_unsent_row(engine):
    with Session(engine) as s:
        for sid, sent_days_ago in (("old-sent", 20), ("recent-sent", 2), ("old-unsent", None)):
            row = add_event(s, event(sid), "test")
            row.created_at = NOW - timedelta(days=20)
            row.sent_at = None if sent_days_ago is None else NOW - timedelta(days=sent_days_ago)
        s.add(ProcessedEvent(event_id="old", topic=TOPIC.name, processed_at=NOW - timedelta(days=20)))
        s.add(ProcessedEvent(event_id="recent", topic=TOPIC.name, processed_at=NOW - timedelta(days=2)))
        s.commit()
    assert prune(engine, NOW - timedelta(days=14)) == {"outbox": 1, "processed_events": 1}
    with Session(engine) as s:
        kept = sorted(json.loads(r.body)["submission_id"] for r in s.exec(select(OutboxRow)))
        assert [p.event_id for p in s.exec(select(ProcessedEvent))] == ["recent"]
    assert kept == ["old-unsent", "recent-sent"]  # an unsent row stays however old it is
    assert prune(engine, NOW - timedelta(days=14)) == {"outbox": 0, "processed_events": 0}


def test_a_redelivery_inside_the_window_is_still_deduplicated_and_one_after_it_is_not(engine):
    applied: list[str] = []

    def handler(ev, session):
        applied.append(ev.submission_id)
        return []

    runner = ConsumerRunner(service="test", topic=TOPIC, handler=handler, engine=engine, broker=None,
                            seen=SeenCache(None, "test"), after_commit=lambda: None, policy=RetryPolicy())

    def delivery(sid: str, env) -> Delivery:
        record = SimpleNamespace(topic=TOPIC.name, partition=0, offset=0, key=b"p1", value=b"", headers=[])
        return Delivery(record, env.headers(), b"", env, event(sid))

    inside, outside = (make_envelope(TOPIC.ce_type, "urn:uise:test", "p1") for _ in range(2))
    assert runner.apply(delivery("a", inside)) and runner.apply(delivery("b", outside))
    with Session(engine) as s:  # age them: one 2 days, one 20
        for env, days in ((inside, 2), (outside, 20)):
            s.get(ProcessedEvent, env.id).processed_at = NOW - timedelta(days=days)
        s.commit()
    prune(engine, NOW - timedelta(days=14))
    assert runner.apply(delivery("a", inside)) is False  # the broker could still redeliver it: skipped
    assert runner.apply(delivery("b", outside)) is True  # past the window (and past the broker's retention)
    assert applied == ["a", "b", "b"]


@pytest.mark.integration
async def test_the_group_replaying_its_topic_from_offset_zero_applies_only_what_the_window_forgot(
        kafka_bootstrap, engine):
    """A replay as the broker makes one: the topic read again from offset zero into the same
    database (here by a consumer group that starts from the earliest offset, as a group whose
    offsets were lost or reset does). Inside the window every id is known and nothing is applied
    twice; an event whose id was pruned (older than the window, so older than the broker keeps a
    message in production) is applied again. Without Redis: the table decides."""
    topic = Topic("retentiontest", f"e{uuid.uuid4().hex[:8]}", 1, TimelinessRecorded, "participant_id",
                  ("test",), ("test",), partitions=1)
    await ensure_topics(kafka_bootstrap, (topic,))
    envelopes = {sid: make_envelope(topic.ce_type, "urn:uise:test", "p1") for sid in ("a", "b", "c")}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for sid, env in envelopes.items():
            await producer.send_and_wait(topic.name, event(sid).model_dump_json().encode(), key=b"p1",
                                         headers=[(k, v.encode()) for k, v in env.headers().items()])
    finally:
        await producer.stop()
    applied: list[str] = []

    def handler(ev, session):
        applied.append(ev.submission_id)
        return []

    async def consume_until(n: int, group: str) -> None:
        broker = make_broker(Settings(kafka_bootstrap=kafka_bootstrap, service_name=group))
        subscribe(broker, ConsumerRunner(service=group, topic=topic, handler=handler, engine=engine,
                                         broker=broker, seen=SeenCache(None, group),
                                         after_commit=lambda: None, policy=RetryPolicy(3, 0.05)))
        await broker.start()
        try:
            for _ in range(300):
                if len(applied) >= n:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"applied {applied}, waited for {n}")
        finally:
            await broker.stop()

    await consume_until(3, "retentiontest")
    with Session(engine) as s:  # a and b processed 2 days ago, c 20 days ago
        for sid, days in (("a", 2), ("b", 2), ("c", 20)):
            s.get(ProcessedEvent, envelopes[sid].id).processed_at = NOW - timedelta(days=days)
        s.commit()
    assert prune(engine, NOW - timedelta(days=14))["processed_events"] == 1
    await consume_until(4, "retentiontest-again")  # c again; a and b came before it: read, and skipped
    assert applied == ["a", "b", "c", "c"]
