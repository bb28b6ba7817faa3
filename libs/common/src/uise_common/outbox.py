"""Transactional outbox and its relay.

A handler's events are written as outbox rows in the same database transaction as the state
they describe; the relay then publishes them to Kafka and marks them sent. A crash between the
two republishes on restart (at-least-once); consumers deduplicate on the CloudEvents id.

Events stay far below the broker's message limit (1 MiB: Kafka's max.message.bytes and aiokafka's
max_request_size). `add_event` refuses one whose record would exceed `RECORD_MAX_BYTES`
(EventTooLarge: a route answers 422 EVENT_TOO_LARGE, nothing is written), after the claim check
(uise_common.claimcheck) has moved large user data to object storage. A row the broker refuses
for a reason retrying cannot fix (its size, a corrupt record) or that cannot even be
made into a record is *set aside* by the relay with its reason (`set_aside_at`,
`set_aside_reason`) and the rows behind it go on: one bad row never stops a service's events.
That breaks the order of the set-aside row's key on purpose (its later events go out without it);
the gauge `uise_outbox_set_aside` and the alert UiseOutboxRowSetAside tell ops, who list, requeue
or discard such rows with `uise-outbox` (docs/runbook.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import Engine, update
from sqlmodel import Field, Session, SQLModel, col, select

from uise_common import metrics
from uise_common.claimcheck import ClaimCheck
from uise_common.db import one_writer, utcnow
from uise_contracts import make_envelope, topic_for

log = logging.getLogger(__name__)
T = TypeVar("T")
_PROPAGATOR = TraceContextTextMapPropagator()

# Hands one record to the producer and returns once it is queued, with an awaitable that
# completes when the broker has acknowledged it.
Publish = Callable[[bytes, str, bytes, dict[str, str]], Awaitable[Awaitable[object]]]


# A record's size as the relay counts it (value, key, header names and values): what add_event and
# the relay keep under. 900 KiB leaves room under the broker's 1 MiB for the record's framing.
RECORD_MAX_BYTES = 900 * 1024

# What a broker answers, or a producer raises at hand-over, for a record it will never take:
# retrying the same bytes cannot help. A broker that validates schemas answers INVALID_RECORD (87),
# which aiokafka 0.14 reports as UnknownError, like failures that do pass: such a row is retried,
# and UiseOutboxStuck tells.
REFUSED_FOR_GOOD = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError, CorruptRecordException)


class EventTooLarge(ValueError):
    """An event whose record would exceed the limit, even after the claim check."""

    def __init__(self, topic: str, size: int, limit: int) -> None:
        super().__init__(f"an event for {topic} would be {size:,} bytes; the limit is {limit:,}")
        self.topic = topic
        self.size = size
        self.limit = limit


class Unpublishable(Exception):
    """A row that cannot be made into a record the broker would take; the message is its reason."""


def record_size(body: bytes, key: bytes, headers: dict[str, str]) -> int:
    return len(body) + len(key) + sum(len(k.encode()) + len(v.encode()) for k, v in headers.items())


def _failed(exc: BaseException) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future


class OutboxRow(SQLModel, table=True):
    __tablename__ = "uise_outbox"
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, unique=True)
    topic: str
    key: str
    headers: str  # JSON object: CloudEvents headers and traceparent
    body: str
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, index=True)
    # Set by the relay when the broker refused the row for good (module docstring); a set-aside
    # row is neither sent nor pending until ops requeue it (uise-outbox).
    set_aside_at: datetime | None = Field(default=None)
    set_aside_reason: str | None = Field(default=None)


# The step that adds the set-aside columns to a service's outbox made before them
# (uise_common.service.COMMON_LATER_MIGRATIONS).
SET_ASIDE_COLUMNS = {"set_aside_at": "TIMESTAMP", "set_aside_reason": "VARCHAR"}


def add_event(session: Session, event: BaseModel, source: str, event_id: str | None = None, *,
              claims: ClaimCheck | None = None) -> OutboxRow:
    """Queue an event in the caller's transaction. `event_id` makes a replayed handler write
    the same id again, which the unique index then refuses. With `claims` (a service with object
    storage), large user data travel by reference; an event still over RECORD_MAX_BYTES raises
    EventTooLarge and nothing is queued."""
    if claims is not None:
        event = claims.check_in(event)
    topic = topic_for(event)
    key = str(getattr(event, topic.key))
    env = make_envelope(topic.ce_type, f"urn:uise:{source}", key, event_id)
    headers = env.headers()
    _PROPAGATOR.inject(headers)  # the current trace travels with the row
    body = event.model_dump_json()
    size = record_size(body.encode(), key.encode(), headers)
    if size > RECORD_MAX_BYTES:
        raise EventTooLarge(topic.name, size, RECORD_MAX_BYTES)
    row = OutboxRow(event_id=env.id, topic=topic.name, key=key, headers=json.dumps(headers), body=body)
    session.add(row)
    return row


_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaseLost(Exception):
    """Another relay holds the service's lease now."""


class RelayLease:
    """One relay per service publishes at a time, so events leave in commit order even with
    several replicas; the others stand by and take over when the lease lapses. Without Redis
    (one process) or while Redis is down, every relay publishes: duplicates are harmless to the
    idempotent consumers, a stalled outbox is not."""

    def __init__(self, redis: Redis | None, service: str, ttl_seconds: float = 10.0) -> None:
        self.redis = redis
        self.key = f"uise:{service}:outbox-relay"
        self.token = uuid.uuid4().hex
        self.ttl_ms = int(ttl_seconds * 1000)

    async def hold(self) -> bool:
        if self.redis is None:
            return True
        try:
            if await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
                return True
            return bool(await self.redis.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms))
        except Exception as exc:
            log.warning("relay lease unavailable, publishing anyway", extra={"error": repr(exc)})
            return True

    async def renewed_while(self, work: Awaitable[T]) -> T:
        """Run `work`, renewing the lease every third of its time to live, so a long drain never
        outlives it; if another relay has taken the lease meanwhile (this one stalled past the
        time to live), `work` is cancelled and LeaseLost raised: two relays never publish one
        outbox at once."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.ttl_ms / 3000)
                if done:
                    return task.result()
                if not await self.hold():
                    raise LeaseLost(f"{self.key} is held by another relay")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def release(self) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.eval(_RELEASE, 1, self.key, self.token)
        except Exception:
            pass


class OutboxRelay:
    """Publishes unsent rows in id order. `wake()` after a commit makes it run at once; it also
    polls, so rows committed by another replica or before a restart go out too. A row over
    `max_record_bytes` (set it under the broker's max.message.bytes) is set aside without being
    handed over; so is one the broker refuses for good (REFUSED_FOR_GOOD)."""

    def __init__(self, engine: Engine, publish: Publish, poll_seconds: float = 0.5, batch: int = 500,
                 lease: RelayLease | None = None, max_record_bytes: int = RECORD_MAX_BYTES):
        self.engine = engine
        self.publish = publish
        self.lease = lease or RelayLease(None, "local")
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.max_record_bytes = max_record_bytes
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    def _pending(self) -> list[OutboxRow]:
        with Session(self.engine) as s:
            q = (select(OutboxRow).where(col(OutboxRow.sent_at).is_(None), col(OutboxRow.set_aside_at).is_(None))
                 .order_by(col(OutboxRow.id)).limit(self.batch))
            return list(s.exec(q).all())

    def _mark_sent(self, ids: list[int]) -> None:
        with one_writer(self.engine), Session(self.engine) as s:
            s.exec(update(OutboxRow).where(col(OutboxRow.id).in_(ids)).values(sent_at=utcnow()))
            s.commit()

    def _set_aside(self, refused: list[tuple[OutboxRow, str]]) -> None:
        with one_writer(self.engine), Session(self.engine) as s:
            now = utcnow()
            for row, reason in refused:
                s.exec(update(OutboxRow).where(col(OutboxRow.id) == row.id)
                       .values(set_aside_at=now, set_aside_reason=reason[:2000]))
            s.commit()
        for row, reason in refused:
            log.error("outbox row set aside: the broker will never take it; the rows behind it go on",
                      extra={"outbox_id": row.id, "event_id": row.event_id, "topic": row.topic, "reason": reason})

    def _record(self, row: OutboxRow) -> tuple[bytes, bytes, dict[str, str]]:
        """The row as the producer takes it; Unpublishable when it cannot be one."""
        try:
            headers = json.loads(row.headers)
            body, key = row.body.encode(), row.key.encode()
            size = record_size(body, key, headers)
        except (ValueError, TypeError, AttributeError) as exc:  # UnicodeError is a ValueError
            raise Unpublishable(f"UNREADABLE: {type(exc).__name__}: {exc}") from exc
        if size > self.max_record_bytes:
            raise Unpublishable(f"TOO_LARGE: {size:,} bytes; the relay's limit is {self.max_record_bytes:,}")
        return body, key, headers

    async def flush(self) -> int:
        """Publish everything pending now; returns how many rows went out. Rows refused for good
        are set aside and the rest go on; on any other failure (Kafka away) it raises, leaving
        the unsent rows for the next try.

        A batch of rows is handed to the producer without waiting for each acknowledgement
        (`publish` returns the broker's future), then the acknowledgements are awaited together:
        one round trip per batch instead of one per row. Order per key holds because the
        producer keeps one request in flight per broker, so a partition's records go out in the
        order they were handed over."""
        sent = 0
        async with self._lock:
            while rows := await asyncio.to_thread(self._pending):
                futures = []
                for row in rows:
                    try:
                        body, key, headers = self._record(row)
                    except Unpublishable as exc:
                        futures.append(_failed(exc))
                        continue
                    token = otel_context.attach(_PROPAGATOR.extract(headers))
                    try:
                        futures.append(await self.publish(body, row.topic, key, headers))
                    except Exception as exc:
                        futures.append(_failed(exc))
                        if not isinstance(exc, REFUSED_FOR_GOOD):
                            break  # refused before it left, for now: await what did leave
                    finally:
                        otel_context.detach(token)
                outcomes = await asyncio.gather(*futures, return_exceptions=True)
                done, refused, failure = [], [], None
                for row, outcome in zip(rows, outcomes, strict=False):
                    if not isinstance(outcome, BaseException):
                        done.append(row)
                    elif isinstance(outcome, Unpublishable):
                        refused.append((row, str(outcome)))
                    elif isinstance(outcome, REFUSED_FOR_GOOD):
                        refused.append((row, f"BROKER_REFUSED: {type(outcome).__name__}: {outcome}"))
                    elif failure is None:
                        failure = outcome
                metrics.published(self, [r.topic for r in done])
                if done:
                    await asyncio.to_thread(self._mark_sent, [r.id for r in done])
                    sent += len(done)
                if refused:
                    await asyncio.to_thread(self._set_aside, refused)
                if failure is not None:
                    raise failure
        return sent

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            if not await self.lease.hold():
                continue
            try:
                await self.lease.renewed_while(self.flush())
            except asyncio.CancelledError:
                raise
            except LeaseLost as exc:
                log.warning("outbox relay lost its lease; standing by", extra={"error": str(exc)})
            except Exception as exc:  # Kafka down: keep the rows, try again on the next tick
                log.warning("outbox relay could not publish", extra={"error": repr(exc)})
                await asyncio.sleep(self.poll_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.lease.release()
