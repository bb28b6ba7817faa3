"""A replay on a real Kafka-protocol broker (tansu): the input topics from offset zero through the
service's own handlers into a fresh database, in the order the messages were published; a
message whose reference data comes later waits for it, one that never can is given up and
reported; duplicates skipped, malformed ones counted; each handler sees the business clock of
its message's time; nothing re-emitted; the live consumer group's offsets untouched."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from sqlmodel import Field, Session, SQLModel, select

from uise_common import clock
from uise_common.broker import ensure_topics
from uise_common.clock import clear_control, write_control
from uise_common.consumer import NotYetKnown, group_of
from uise_common.db import Migration, create_tables, make_engine, utcnow
from uise_common.outbox import OutboxRow
from uise_common.readmodel import ReadModel, Table
from uise_common.replay import ReplayError, live_lag, rebuild
from uise_common.service import ServiceSpec
from uise_common.settings import Settings
from uise_contracts import make_envelope
from uise_contracts.events import TimelinessRecorded
from uise_contracts.topics import Topic

pytestmark = pytest.mark.integration
ALMATY = ZoneInfo("Asia/Almaty")
FROZEN = datetime(2034, 1, 5, 10, 0, tzinfo=ALMATY)


class Person(SQLModel, table=True):
    __tablename__ = "replaytest_person"
    participant_id: str = Field(primary_key=True)


class Fact(SQLModel, table=True):
    __tablename__ = "replaytest_fact"
    submission_id: str = Field(primary_key=True)
    participant_id: str
    business_day: date  # the day the handler took it on
    handled_at: datetime = Field(default_factory=utcnow)


def topic(event: str) -> Topic:
    return Topic("replaytest", f"{event}{uuid.uuid4().hex[:6]}", 1, TimelinessRecorded, "participant_id",
                 ("test",), ("replaytest",), partitions=1)


PEOPLE, FACTS = topic("people"), topic("facts")


def on_person(event: TimelinessRecorded, session: Session) -> list:
    session.merge(Person(participant_id=event.participant_id))
    return []


def on_fact(event: TimelinessRecorded, session: Session) -> list:
    if session.get(Person, event.participant_id) is None:
        raise NotYetKnown(f"participant {event.participant_id}")
    session.add(Fact(submission_id=event.submission_id, participant_id=event.participant_id,
                     business_day=clock.process_clock().today()))
    return [event]  # an event to emit: the replay must not publish it


SPEC = ServiceSpec(name="replaytest", migrations=[Migration(1, "tables", create_tables(Person, Fact))],
                   consumers=lambda _rt: {PEOPLE: on_person, FACTS: on_fact},
                   read_model=ReadModel(tables=(Table(Person), Table(Fact, ignore=("handled_at",)))))


def event(sid: str, pid: str) -> bytes:
    return TimelinessRecorded(submission_id=sid, participant_id=pid, form_code="F", period="2033",
                              delivered_at=datetime.now(UTC), deadline_at=None, on_time=None).model_dump_json().encode()


async def publish(bootstrap: str, t: Topic, value: bytes, ce_id: str | None = None) -> None:
    env = make_envelope(t.ce_type, "urn:uise:test", "k", ce_id)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(t.name, value, key=b"k", headers=[(k, v.encode()) for k, v in env.headers().items()])
    finally:
        await producer.stop()
    await asyncio.sleep(0.01)  # distinct publish times: the order is the test's


async def commit_live_group(bootstrap: str, offset: int) -> None:
    """The live service's group for the facts, having consumed `offset` messages."""
    tp = TopicPartition(FACTS.name, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_of(SPEC.name, FACTS),
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()


async def committed(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_of(SPEC.name, FACTS),
                                                          partitions=[TopicPartition(FACTS.name, 0)])
        return offsets[TopicPartition(FACTS.name, 0)].offset
    finally:
        await admin.close()


async def test_a_replay_rebuilds_in_published_order_on_each_message_s_clock_and_touches_nothing_live(
        kafka_bootstrap, tmp_path):
    await ensure_topics(kafka_bootstrap, (PEOPLE, FACTS))
    control = tmp_path / "clock.json"
    await publish(kafka_bootstrap, PEOPLE, event("-", "p1"))
    write_control(control, fixed=FROZEN)  # a rehearsal's clock while f1 was published
    await publish(kafka_bootstrap, FACTS, event("f1", "p1"), ce_id="f1-id")
    clear_control(control)
    await publish(kafka_bootstrap, FACTS, event("f2", "p2"))  # p2 is not known yet: f2 waits for it
    await publish(kafka_bootstrap, FACTS, event("f1", "p1"), ce_id="f1-id")  # a redelivery
    await publish(kafka_bootstrap, FACTS, b"{not json")
    await publish(kafka_bootstrap, PEOPLE, event("-", "p2"))
    await publish(kafka_bootstrap, FACTS, event("f9", "p9"))  # p9 never comes
    await publish(kafka_bootstrap, FACTS, event("f3", "p1"))
    await commit_live_group(kafka_bootstrap, 2)

    settings = Settings(service_name=SPEC.name, kafka_bootstrap=kafka_bootstrap, clock_file=control)
    live = make_engine(f"sqlite:///{tmp_path / 'live.db'}", SPEC.name)
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}", SPEC.name)
    result = await rebuild(SPEC, settings, live, fresh)

    facts = result.counts[FACTS.name]
    assert (facts.read, facts.applied, facts.duplicates, facts.malformed) == (6, 3, 1, 1)
    assert len(facts.given_up) == 1 and "NotYetKnown: participant p9" in facts.given_up[0], facts.given_up
    assert result.counts[PEOPLE.name].applied == 2
    assert result.marks == {PEOPLE.name: {0: 2}, FACTS.name: {0: 6}}
    with Session(fresh) as s:
        days = {f.submission_id: f.business_day for f in s.exec(select(Fact))}
        outbox = s.exec(select(OutboxRow)).all()
    today = datetime.now(ALMATY).date()
    assert days == {"f1": FROZEN.date(), "f2": today, "f3": today}, days  # the clock of each one's time
    assert len(outbox) == result.kept_unrelayed == 3 and all(r.sent_at is not None for r in outbox)
    assert clock.process_clock().is_real()  # the process's own clock is back
    assert await committed(kafka_bootstrap) == 2  # the live group's position, untouched
    assert await live_lag(settings, SPEC.name, [FACTS]) == {FACTS.name: 4}
    with pytest.raises(ReplayError, match="not fresh"):
        await rebuild(SPEC, settings, live, fresh)
    live.dispose()
    fresh.dispose()

