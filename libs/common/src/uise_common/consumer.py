"""The consumer policy every UISE handler runs under, as small composable steps:

    decode  -> malformed? straight to the DLQ (retrying cannot fix it)
    dedupe  -> seen before? acknowledge and skip
    apply   -> one DB transaction: handler state + outbox rows + processed-event ids
    retry   -> a failing apply is retried in place with backoff, then dead-lettered
    ack     -> the offsets are committed only after all of that (AckPolicy.NACK_ON_ERROR:
               if even the DLQ publish fails, the batch is rewound and comes again)

Messages arrive in batches (one poll): the whole batch is applied in one transaction and its
offsets committed once, because a commit is a broker round trip (on the embedded broker, a
write to its object store) that costs more than the work of most handlers. When anything in
the batch fails, the transaction is rolled back and the batch is applied one message at a time
under the retry policy, so one bad message costs only itself.

A handler is a plain function `(event, session) -> list[events to emit]`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from uise_common import metrics
from uise_common.claimcheck import ClaimCheck
from uise_common.db import one_writer
from uise_common.idempotency import SeenCache, already_processed, record_processed
from uise_common.outbox import RECORD_MAX_BYTES, add_event
from uise_common.telemetry import tag_submission
from uise_contracts import Envelope
from uise_contracts.topics import Topic

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()

Handler = Callable[[Any, Session], list[BaseModel]]

# How many messages one poll hands over, and how long a poll waits for the first one. A batch
# is one transaction and one offset commit; the wait bounds the latency an idle consumer adds.
BATCH_MAX_RECORDS = 200
BATCH_WAIT_MS = 100


class Malformed(Exception):
    """The message cannot be read as its topic's contract."""


class NotYetKnown(Exception):
    """Reference data the handler needs (a participant, a form) has not reached this service's
    read model yet; retrying in place lets the registry's events catch up."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    backoff_seconds: float = 0.25

    def delay(self, attempt: int) -> float:
        return min(self.backoff_seconds * (2**attempt), 10.0)


def decode(topic: Topic, headers: dict[str, str], body: bytes) -> tuple[Envelope, BaseModel]:
    if len(body) > RECORD_MAX_BYTES:  # no outbox sends one (add_event): refused before it is parsed
        raise Malformed(f"EventTooLarge: {len(body):,} bytes, more than {RECORD_MAX_BYTES:,}")
    try:
        env = Envelope.from_headers(headers)
        return env, topic.model.model_validate_json(body)
    except (KeyError, ValueError, ValidationError) as exc:
        raise Malformed(f"{type(exc).__name__}: {exc}") from exc


def dlq_headers(headers: dict[str, str], record: Any, group: str, error: BaseException, attempts: int) -> dict[str, str]:
    out = dict(headers)
    out.update({
        "x-original-topic": record.topic,
        "x-original-partition": str(record.partition),
        "x-original-offset": str(record.offset),
        "x-consumer-group": group,
        "x-error-type": type(error).__name__,
        "x-error-message": str(error)[:2000],
        "x-attempts": str(attempts),
    })
    return out


class BatchFailed(Exception):
    """A batch's transaction failed: at `delivery` (None when its commit failed)."""

    def __init__(self, delivery: Delivery | None, cause: BaseException) -> None:
        super().__init__(repr(cause))
        self.delivery = delivery
        self.cause = cause


@dataclass
class Delivery:
    """One consumed record, read: its headers and body, and once decoded its envelope and event."""

    record: Any
    headers: dict[str, str]
    body: bytes
    env: Envelope | None = None
    event: BaseModel | None = None

    @classmethod
    def of(cls, record: Any) -> Delivery:
        headers = {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                   for k, v in (record.headers or ())}
        return cls(record, headers, record.value or b"")


class ConsumerRunner:
    """Runs one handler for one topic under the policy above."""

    def __init__(
        self,
        *,
        service: str,
        topic: Topic,
        handler: Handler,
        engine: Engine,
        broker: KafkaBroker,
        seen: SeenCache,
        after_commit: Callable[[], None],
        policy: RetryPolicy,
        claims: ClaimCheck | None = None,
    ) -> None:
        self.service = service
        self.topic = topic
        self.handler = handler
        self.engine = engine
        self.broker = broker
        self.seen = seen
        self.after_commit = after_commit
        self.policy = policy
        self.claims = claims  # large user data by reference (uise_common.claimcheck)
        self.group = f"uise-{service}.{topic.name}"  # one group per topic: no cross-topic rebalances
        self._tracer = trace.get_tracer("uise.consumer")

    # --- the transaction -------------------------------------------------------------------

    @contextmanager
    def _span(self, d: Delivery) -> Iterator[None]:
        """The message's own span, a child of the producer's (its traceparent header), so a
        submission keeps one trace across services although messages arrive in batches."""
        parent = _PROPAGATOR.extract(d.headers)
        with self._tracer.start_as_current_span(f"{self.topic.name} process", context=parent,
                                                kind=SpanKind.CONSUMER):
            tag_submission(getattr(d.event, "submission_id", None))
            yield

    def _apply_in(self, session: Session, d: Delivery) -> bool:
        """The handler's work for one message inside `session`; False when it was processed
        already (a redelivery)."""
        with self._span(d):
            if already_processed(session, d.env.id):
                return False
            event = self.claims.resolve(d.event) if self.claims else d.event
            emitted = self.handler(event, session)
            for i, out in enumerate(emitted):
                # deterministic ids: a replay that slipped past the dedupe writes the same ids
                add_event(session, out, self.service, event_id=f"{d.env.id}/{self.service}/{i}", claims=self.claims)
            record_processed(session, d.env.id, self.topic.name)
            session.flush()  # the next message of the batch sees this one's rows
        return True

    def apply_batch(self, batch: Sequence[Delivery]) -> int:
        """All of `batch` in one transaction; how many were new. Raises BatchFailed, leaving
        nothing written, when any of them fails."""
        with one_writer(self.engine), Session(self.engine) as session:
            new = 0
            for d in batch:
                try:
                    new += self._apply_in(session, d)
                except Exception as exc:
                    raise BatchFailed(d, exc) from exc
            try:
                session.commit()
            except Exception as exc:
                raise BatchFailed(None, exc) from exc
        return new

    def apply(self, d: Delivery) -> bool:
        """One message in its own transaction. False when it had been processed already."""
        try:
            with one_writer(self.engine), Session(self.engine) as session:
                if not self._apply_in(session, d):
                    return False
                session.commit()
        except IntegrityError:
            # A concurrent replay that committed first, or the handler breaking a constraint of
            # its own: only the processed-event table tells which. The latter is an error like
            # any other (retried, then dead-lettered), never a silent drop.
            with Session(self.engine) as session:
                if already_processed(session, d.env.id):
                    return False
            raise
        return True

    # --- the policy ------------------------------------------------------------------------

    async def dead_letter(self, d: Delivery, error: BaseException, attempts: int) -> None:
        record = d.record
        await self.broker.publish(
            d.body, self.topic.dlq, key=record.key,
            headers=dlq_headers(d.headers, record, self.group, error, attempts),
        )
        metrics.consumed(self, "dead_lettered")
        log.error("message dead-lettered", extra={
            "topic": self.topic.name, "offset": record.offset, "partition": record.partition,
            "error": repr(error), "dlq": self.topic.dlq,
        })

    async def _one_at_a_time(self, d: Delivery, failed: BaseException | None = None) -> bool:
        """Apply `d` under the retry policy; False when it ended in the DLQ. `failed` is the
        error of the batch attempt when `d` was the message that broke it: that was its first
        attempt."""
        attempt = 0
        while True:
            if failed is None:
                try:
                    processed = await asyncio.to_thread(self.apply, d)
                except Exception as exc:
                    metrics.consumed(self, "failed")
                    failed = exc
                else:
                    metrics.consumed(self, "processed" if processed else "duplicate")
                    if processed:
                        self.after_commit()
                    return True
            attempt += 1
            if attempt >= self.policy.attempts:
                await self.dead_letter(d, failed, attempt)
                return False
            log.warning("handler failed, retrying", extra={
                "topic": self.topic.name, "attempt": attempt, "error": repr(failed)})
            await asyncio.sleep(self.policy.delay(attempt - 1))
            failed = None

    async def __call__(self, records: Sequence[Any]) -> None:
        """Handle one poll's records, in their order (which is per-partition order)."""
        batch: list[Delivery] = []
        for record in records:
            d = Delivery.of(record)
            try:
                d.env, d.event = decode(self.topic, d.headers, d.body)
            except Malformed as exc:
                await self.dead_letter(d, exc, 0)
                continue
            batch.append(d)
        seen = await self.seen.seen_many([d.env.id for d in batch])
        metrics.consumed(self, "duplicate", sum(d.env.id in seen for d in batch))
        batch = [d for d in batch if d.env.id not in seen]
        if not batch:
            return
        try:
            new = await asyncio.to_thread(self.apply_batch, batch)
        except BatchFailed as exc:
            metrics.consumed(self, "failed")  # the batch's attempt; then each message's own
            log.info("batch failed, applying its messages one at a time", extra={
                "topic": self.topic.name, "size": len(batch), "error": repr(exc.cause)})
            # a dead-lettered message is not marked seen: a re-drive must reach the handler
            batch = [d for d in batch
                     if await self._one_at_a_time(d, exc.cause if d is exc.delivery else None)]
        else:
            metrics.consumed(self, "processed", new)
            metrics.consumed(self, "duplicate", len(batch) - new)  # processed before, by the table
            if new:
                self.after_commit()
        await self.seen.mark_many([d.env.id for d in batch])


async def _raw_body(msg: Any) -> Any:
    """Leave decoding to the runner: FastStream would otherwise parse JSON bodies itself and
    fail before a malformed one could reach the DLQ."""
    return msg.body


def subscribe(broker: KafkaBroker, runner: ConsumerRunner) -> None:
    """Register the runner with FastStream: its own consumer group, from the earliest offset,
    in batches, offsets committed only after the runner returns."""

    async def handle(msg: KafkaMessage) -> None:
        with metrics.consuming(runner, len(msg.raw_message)):  # received, and the processing time
            await runner(msg.raw_message)

    handle.__name__ = f"{runner.service}_{runner.topic.name.replace('.', '_').replace('-', '_')}"
    broker.subscriber(
        runner.topic.name,
        group_id=runner.group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=BATCH_MAX_RECORDS,
        batch_timeout_ms=BATCH_WAIT_MS,
        decoder=_raw_body,
        title=handle.__name__,
    )(handle)
