"""Rebuild a service's read model from its input topics, from offset zero, into a fresh database.

    result = await rebuild(spec, settings, live_engine, fresh_engine)
    comparison = readmodel.compare(live_engine, fresh_engine, spec.read_model)

How, and why so:
- The fresh database is migrated as the service migrates its own, then given the service's
  sources of truth from the live one (`ReadModel.seeds`: what its HTTP commands wrote and its
  handlers read).
- Every input topic is read from its first offset up to the high-water marks taken at the start,
  with no consumer group: nothing is committed, so the live groups' offsets are never touched,
  and the live service goes on as if nothing happened.
- The records of all topics are applied in the order they were published (their timestamps),
  each partition in its own order: the order the live service met them in, within the small
  delays of its consumers, so that a handler reading another topic's read model (a participant,
  a form) finds what it found live.
- Each message goes through the service's own handler under the consumer's transaction
  (`ConsumerRunner.apply_batch`: handler state, outbox rows and the processed-event id together),
  so duplicates on the topics are skipped as live skips them.
- A message the handler refuses waits, its partition behind it, while the other partitions go
  on (live retries it while the other consumers progress); when nothing else can move, it is
  tried once more and, failing again, given up and reported (live dead-lettered it).
- The business clock during a message is the one the stack showed when the message was published
  (`Clock.at`, from the clock's history), so a decision that depends on the day is taken on the
  same day as live.
- The object store is read as live reads it; a replay writes nothing to it (`ReadOnlyStore`: the
  address of what a handler would store, computed, nothing stored).
- A replay re-emits nothing: the events its handlers queue stay in the fresh database's outbox,
  marked sent (no relay publishes them, even if that database is served later). The live service
  published them the first time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import Engine, inspect, update
from sqlmodel import Session, col

from uise_common import clock as business_clock
from uise_common.broker import kafka_client_options
from uise_common.claimcheck import ClaimCheck
from uise_common.clock import Clock
from uise_common.consumer import (
    BatchFailed,
    ConsumerRunner,
    Delivery,
    Malformed,
    RetryPolicy,
    decode,
    group_of,
)
from uise_common.db import migrate, utcnow
from uise_common.idempotency import SeenCache
from uise_common.objectstore import ObjectStore, address
from uise_common.outbox import OutboxRow
from uise_common.readmodel import seed
from uise_common.service import ServiceSpec, with_common
from uise_common.settings import Settings
from uise_contracts.events import StoredObject
from uise_contracts.topics import Topic

log = logging.getLogger(__name__)
BATCH = 200  # consecutive messages of one topic applied in one transaction
IDLE_SECONDS = 60.0  # the broker giving nothing below a high-water mark for this long: an error


class ReplayError(Exception):
    """The replay cannot start or go on (a target that is not fresh, a broker that stalls)."""


class ReplayClock(Clock):
    """The business clock as it stood when the message being replayed was published."""

    def __init__(self, stack_clock: Clock) -> None:
        super().__init__()
        self.stack_clock = stack_clock
        self.published_at = datetime.now(UTC)

    def is_real(self) -> bool:
        return False

    def now(self) -> datetime:
        return self.stack_clock.at(self.published_at)


class ReadOnlyStore:
    """The live object store for reading; `put` answers where the bytes would be stored (by their
    hash) and stores nothing, so a replay leaves no object behind. A handler reading back what it
    put in the same replay would not find it (none does)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def get(self, obj: StoredObject) -> bytes:
        return self.store.get(obj)

    def put(self, data: bytes, kind: str, media_type: str) -> StoredObject:
        return address(data, kind, media_type)


@dataclass
class ReplayRuntime:
    """What a service's `ServiceSpec.consumers(rt)` builds its handlers from, in a replay."""

    settings: Settings
    store: ReadOnlyStore | None
    clock: Clock
    engine: Engine | None


@dataclass
class TopicCount:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    malformed: int = 0
    given_up: list[str] = field(default_factory=list)  # "partition/offset: error"


@dataclass
class ReplayResult:
    service: str
    marks: dict[str, dict[int, int]]  # topic -> partition -> high-water mark read up to
    trimmed: dict[str, dict[int, int]]  # topic -> partition -> first offset, where it is not 0
    counts: dict[str, TopicCount]
    seeded: dict[str, int]
    kept_unrelayed: int  # outbox rows the handlers queued, kept and never published
    seconds: float

    def lines(self) -> list[str]:
        out = [f"replayed {self.service} in {self.seconds:.1f} s: "
               + (", ".join(f"{n} {t}" for t, n in self.seeded.items()) + " seeded from live; " if self.seeded else "")
               + f"{self.kept_unrelayed} events its handlers emitted kept unpublished"]
        for topic, c in self.counts.items():
            marks = ",".join(f"{p}:{m}" for p, m in sorted(self.marks.get(topic, {}).items()))
            out.append(f"  {topic:<44} read {c.read:>6}  applied {c.applied:>6}  duplicates {c.duplicates:>5}"
                       f"  malformed {c.malformed:>3}  given up {len(c.given_up):>3}  (marks {marks})")
            out += [f"      given up {g}" for g in c.given_up[:10]]
        for topic, starts in self.trimmed.items():
            out.append(f"  WARNING {topic}: the broker no longer holds its first messages (first offsets "
                       f"{starts}); what they built cannot be replayed")
        return out


def _published_at(record: Any) -> datetime:
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


class _Merged:
    """The records of the assigned partitions below their marks, the earliest published first;
    a partition may be held back (its head refused for now)."""

    def __init__(self, consumer: AIOKafkaConsumer, marks: dict[TopicPartition, int],
                 firsts: dict[TopicPartition, int]) -> None:
        self.consumer = consumer
        self.marks = marks
        self.buffers: dict[TopicPartition, deque] = {tp: deque() for tp in marks}
        self.read_all = {tp for tp in marks if firsts[tp] >= marks[tp]}
        self.held: set[TopicPartition] = set()

    async def fill(self) -> None:
        """Every partition not read to its mark has at least one record buffered."""
        idle_since = time.monotonic()
        while needed := [tp for tp, buf in self.buffers.items() if not buf and tp not in self.read_all]:
            batch = await self.consumer.getmany(*needed, timeout_ms=500, max_records=1000)
            for tp, records in batch.items():
                self.buffers[tp].extend(r for r in records if r.offset < self.marks[tp])
                if records and records[-1].offset + 1 >= self.marks[tp]:
                    self.read_all.add(tp)
            for tp in needed:  # a compacted tail ends below the mark: the position says it is read
                if not self.buffers[tp] and tp not in self.read_all and await self.consumer.position(tp) >= self.marks[tp]:
                    self.read_all.add(tp)
            if batch:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS:
                raise ReplayError(f"the broker gave nothing of {sorted(map(str, needed))} for {IDLE_SECONDS:.0f} s "
                                  "below their high-water marks")

    def earliest(self) -> TopicPartition | None:
        """The partition whose next record was published first, of those not held back."""
        heads = [(buf[0].timestamp, tp.topic, tp.partition, tp) for tp, buf in self.buffers.items()
                 if buf and tp not in self.held]
        return min(heads)[3] if heads else None

    def push_back(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        self.buffers[tp].extendleft(reversed(records))


class _OnItsTime(ConsumerRunner):
    """The service's consumer runner, the business clock set to each message's time before its
    handler runs (in a batch too)."""

    def __init__(self, clock: ReplayClock, **runner: Any) -> None:
        super().__init__(**runner)
        self.clock = clock

    def _apply_in(self, session: Session, d: Delivery) -> bool:
        self.clock.published_at = _published_at(d.record)
        return super()._apply_in(session, d)


class Replay:
    def __init__(self, service: str, handlers: dict[Topic, Callable], engine: Engine, clock: ReplayClock,
                 claims: ClaimCheck | None) -> None:
        self.runners = {topic.name: _OnItsTime(
            clock, service=service, topic=topic, handler=handler, engine=engine, broker=None,
            seen=SeenCache(None, service), after_commit=lambda: None, policy=RetryPolicy(1, 0), claims=claims)
            for topic, handler in handlers.items()}
        self.counts = {name: TopicCount() for name in self.runners}
        self.waiting: dict[TopicPartition, BaseException] = {}  # held partitions: why their head waits

    def _decoded(self, records: Sequence[Any]) -> list[Delivery]:
        out = []
        for record in records:
            self.counts[record.topic].read += 1
            d = Delivery.of(record)
            try:
                d.env, d.event = decode(self.runners[record.topic].topic, d.headers, d.body)
            except Malformed:
                self.counts[record.topic].malformed += 1  # live dead-lettered it at once
                continue
            out.append(d)
        return out

    def _apply_one(self, d: Delivery) -> bool:
        """One message in its own transaction; False when the handler refused it (for now)."""
        tp = TopicPartition(d.record.topic, d.record.partition)
        try:
            new = self.runners[d.record.topic].apply(d)
        except Exception as exc:
            self.waiting[tp] = exc
            return False
        self.waiting.pop(tp, None)
        self.counts[d.record.topic].applied += new
        self.counts[d.record.topic].duplicates += not new
        return True

    def apply(self, merged: _Merged, records: list[Any]) -> None:
        """Consecutive records of one topic: one transaction; when it fails, one at a time, and a
        refused one holds its partition back with the records behind it."""
        topic = records[0].topic
        batch = self._decoded(records)
        if not batch:
            return
        try:
            new = self.runners[topic].apply_batch(batch)
        except BatchFailed:
            self._one_at_a_time(merged, batch)
        else:
            self.counts[topic].applied += new
            self.counts[topic].duplicates += len(batch) - new

    def _one_at_a_time(self, merged: _Merged, batch: list[Delivery]) -> None:
        behind: dict[TopicPartition, list[Any]] = {}
        for d in batch:
            tp = TopicPartition(d.record.topic, d.record.partition)
            if tp in behind or not self._apply_one(d):
                behind.setdefault(tp, []).append(d.record)
        for tp, held in behind.items():
            merged.held.add(tp)
            merged.push_back(tp, held)
            self.counts[tp.topic].read -= len(held)  # read again when released

    def retry_held(self, merged: _Merged, last_chance: bool) -> None:
        """Try each held partition's head again; on the last chance, one refused again is given up."""
        for tp in sorted(merged.held, key=str):
            record = merged.buffers[tp].popleft()
            batch = self._decoded([record])
            if not batch or self._apply_one(batch[0]):
                merged.held.discard(tp)
            elif last_chance:
                error = self.waiting.pop(tp)
                self.counts[tp.topic].given_up.append(f"{tp.partition}/{record.offset}: {type(error).__name__}: {error}")
                log.warning("replay gave a message up", extra={"topic": tp.topic, "offset": record.offset,
                                                               "error": repr(error)})
                merged.held.discard(tp)
            else:
                merged.buffers[tp].appendleft(record)
                self.counts[tp.topic].read -= 1

    async def run(self, merged: _Merged) -> None:
        while True:
            await merged.fill()
            first = merged.earliest()
            if first is None:
                if not merged.held:
                    return
                await asyncio.to_thread(self.retry_held, merged, True)  # nothing else can move
                continue
            records = [merged.buffers[first].popleft()]
            while len(records) < BATCH:
                await merged.fill()
                after = merged.earliest()
                if after is None or after.topic != first.topic:
                    break
                records.append(merged.buffers[after].popleft())
            await asyncio.to_thread(self.apply, merged, records)
            if merged.held:
                await asyncio.to_thread(self.retry_held, merged, False)


async def _high_water(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Each assigned partition's high-water mark, as the first fetch after its seek reports it.
    Not ListOffsets: the embedded broker (tansu) answers it one short at times, which would leave
    a partition's last message out."""
    deadline = time.monotonic() + IDLE_SECONDS
    while (unknown := [tp for tp in tps if consumer.highwater(tp) is None]) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if unknown:
        raise ReplayError(f"the broker reported no high-water mark of {sorted(map(str, unknown))}")
    return {tp: consumer.highwater(tp) for tp in tps}


def _read_only_store(spec: ServiceSpec, settings: Settings) -> ReadOnlyStore | None:
    return ReadOnlyStore(ObjectStore.from_settings(settings)) if spec.uses_object_store else None


def input_topics(spec: ServiceSpec, settings: Settings) -> list[Topic]:
    """The topics the service consumes, as its runtime subscribes to them."""
    return list(spec.consumers(ReplayRuntime(settings, _read_only_store(spec, settings), Clock(), None)))


def _fresh(engine: Engine) -> None:
    tables = inspect(engine).get_table_names()
    if tables:
        raise ReplayError(f"the target database is not fresh: it holds {len(tables)} table(s) "
                          f"({', '.join(sorted(tables)[:5])}, …); replay into an empty one")


def _keep_unrelayed(engine: Engine) -> int:
    """The handlers' events stay in the rebuilt outbox, marked sent: no relay ever publishes them."""
    with Session(engine) as s:
        n = s.exec(update(OutboxRow).where(col(OutboxRow.sent_at).is_(None)).values(sent_at=utcnow())).rowcount
        s.commit()
    return n


async def rebuild(spec: ServiceSpec, settings: Settings, live: Engine, into: Engine) -> ReplayResult:
    """Rebuild `spec`'s read model into the empty database `into` (see the module's doc)."""
    started = time.monotonic()
    if spec.read_model is None:
        raise ReplayError(f"{spec.name} declares no read model: it consumes no topic")
    _fresh(into)
    await asyncio.to_thread(migrate, into, with_common(spec.migrations))
    seeded = await asyncio.to_thread(seed, live, into, spec.read_model.seeds)
    clock = ReplayClock(Clock.from_settings(settings))
    store = _read_only_store(spec, settings)
    replay = Replay(spec.name, spec.consumers(ReplayRuntime(settings, store, clock, into)), into, clock,
                    ClaimCheck(store) if store is not None else None)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", client_id=f"uise-replay-{spec.name}",
                                **kafka_client_options(settings))
    await consumer.start()
    was = business_clock.process_clock()
    business_clock.install(clock)
    try:
        await consumer.topics()  # the partitions of every topic
        tps = [TopicPartition(t, p) for t in replay.runners for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        firsts = await consumer.beginning_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        marks = await _high_water(consumer, tps)
        await replay.run(_Merged(consumer, marks, firsts))
    finally:
        business_clock.install(was)
        await consumer.stop()
    kept = await asyncio.to_thread(_keep_unrelayed, into)
    trimmed = {t: starts for t, starts in _by_topic(firsts).items() if any(starts.values())}
    return ReplayResult(spec.name, _by_topic(marks), trimmed, replay.counts, seeded, kept,
                        time.monotonic() - started)


def _by_topic(offsets: dict[TopicPartition, int]) -> dict[str, dict[int, int]]:
    out: dict[str, dict[int, int]] = {}
    for tp, offset in sorted(offsets.items(), key=lambda kv: (kv[0].topic, kv[0].partition)):
        out.setdefault(tp.topic, {})[tp.partition] = offset
    return out


async def live_lag(settings: Settings, service: str, topics: Sequence[Topic]) -> dict[str, int | None]:
    """How far each live consumer group of `service` is behind its topic's end, by its committed
    offsets (None: not known, e.g. a group that never committed)."""
    options = kafka_client_options(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000, **options)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                enable_auto_commit=False, **options)
    await admin.start()
    await consumer.start()
    try:
        await consumer.topics()
        tps_of = {t.name: [TopicPartition(t.name, p) for p in sorted(consumer.partitions_for_topic(t.name) or ())]
                  for t in topics}
        every = [tp for tps in tps_of.values() for tp in tps]
        consumer.assign(every)
        for tp, end in (await consumer.end_offsets(every)).items():  # a fetch of the tail only
            consumer.seek(tp, max(end - 1, 0))
        ends = await _high_water(consumer, every)
        out: dict[str, int | None] = {}
        for topic in topics:
            tps = tps_of[topic.name]
            group = group_of(service, topic)
            try:
                committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            except Exception:  # the broker cannot say
                out[topic.name] = None
                continue
            at = {tp: (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0) for tp in tps}
            out[topic.name] = sum(max(ends[tp] - at[tp], 0) for tp in tps)
        return out
    finally:
        await consumer.stop()
        await admin.close()
