"""The consumer policy every UISE handler runs under, as small composable steps:

    decode  -> malformed? straight to the DLQ (retrying cannot fix it)
    dedupe  -> seen before? acknowledge and skip
    apply   -> one DB transaction: handler state + outbox rows + processed-event ids
    retry   -> a failure is classified (failures.py): a deterministic one goes to the DLQ at
               once; a transient one is retried in place with capped backoff while the
               partition waits, until it succeeds or the cap sends it to the DLQ
    reject  -> a dead-lettered event about a submission is announced on
               submission.processing-failed, so intake gives the submission a final state
    ack     -> the offsets are committed only after all of that (AckPolicy.NACK_ON_ERROR:
               if even the DLQ publish fails, the batch is rewound and comes again)

Messages arrive in batches (one poll): the whole batch is applied in one transaction and its
offsets committed once, because a commit is a broker round trip (on the embedded broker, a
write to its object store) that costs more than the work of most handlers. When anything in
the batch fails, the transaction is rolled back and the batch is applied one message at a time
under the retry policy, so one bad message costs only itself. The batch's failed attempt does not
count against a message: it shared a transaction with others (and perhaps lost a race), so each
is judged by its own.

While a message waits on a transient failure the runner does not return, so nothing after it is
committed and FastStream polls no more for this consumer: its partitions are paused without
spinning. Kafka would take a consumer that does not poll for `max_poll_interval_ms` for dead and
rebalance; `subscribe` sets that past the policy's cap.

A handler is a plain function `(event, session) -> list[events to emit]`.
"""

from __future__ import annotations

import asyncio
import json
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
from uise_common.failures import DETERMINISTIC, FailureHistory, Malformed, NotYetKnown, RetryPolicy
from uise_common.idempotency import SeenCache, already_processed, record_processed
from uise_common.outbox import RECORD_MAX_BYTES, add_event
from uise_common.telemetry import tag_submission
from uise_contracts import Envelope, make_envelope
from uise_contracts.events import SubmissionProcessingFailed
from uise_contracts.topics import Topic, topic_for

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()

Handler = Callable[[Any, Session], list[BaseModel]]

# How many messages one poll hands over, and how long a poll waits for the first one. A batch
# is one transaction and one offset commit; the wait bounds the latency an idle consumer adds.
BATCH_MAX_RECORDS = 200
BATCH_WAIT_MS = 100


__all__ = ["ConsumerRunner", "Delivery", "Handler", "Malformed", "NotYetKnown", "RetryPolicy", "subscribe"]
PROCESSING_FAILED = topic_for(SubmissionProcessingFailed)


def decode(topic: Topic, headers: dict[str, str], body: bytes) -> tuple[Envelope, BaseModel]:
    if len(body) > RECORD_MAX_BYTES:  # no outbox sends one (add_event): refused before it is parsed
        raise Malformed(f"EventTooLarge: {len(body):,} bytes, more than {RECORD_MAX_BYTES:,}")
    try:
        env = Envelope.from_headers(headers)
        return env, topic.model.model_validate_json(body)
    except (KeyError, ValueError, ValidationError) as exc:
        raise Malformed(f"{type(exc).__name__}: {exc}") from exc


def dlq_headers(headers: dict[str, str], record: Any, group: str, history: FailureHistory,
                verdict: str) -> dict[str, str]:
    return {**headers,
            "x-original-topic": record.topic,
            "x-original-partition": str(record.partition),
            "x-original-offset": str(record.offset),
            "x-consumer-group": group,
            **history.headers(verdict)}


def about_submission(d: Delivery) -> tuple[str, str] | None:
    """(submission_id, participant_id) of a message of a submission topic, else None. A message
    that could not be decoded is looked into as plain JSON: a producer's contract violation
    must not leave its submission without a final state either."""
    if d.event is not None:
        fields = {"submission_id": getattr(d.event, "submission_id", None),
                  "participant_id": getattr(d.event, "participant_id", None)}
    else:
        try:
            fields = json.loads(d.body)
        except ValueError:
            return None
        if not isinstance(fields, dict):
            return None
    sid, pid = fields.get("submission_id"), fields.get("participant_id")
    if isinstance(sid, str) and isinstance(pid, str) and 0 < len(sid) <= 64 and 0 < len(pid) <= 64:
        return sid, pid
    return None


class Stopping(Exception):
    """The consumer is being stopped while it waits on a transient failure."""


def group_of(service: str, topic: Topic) -> str:
    """The service's consumer group for `topic`: one group per topic, no cross-topic rebalances."""
    return f"uise-{service}.{topic.name}"


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
        self.group = group_of(service, topic)
        self._tracer = trace.get_tracer("uise.consumer")
        # the message retried on a transient failure right now, with its failures so far
        self.waiting_on: FailureHistory | None = None
        self.subscriber: Any = None  # FastStream's, once subscribed: its `running` ends a wait
        # A submission topic's event is what a submission's way to its final state is made of;
        # another topic's submission_id (a consolidation's, a violation's) only refers to one.
        self.announces = topic.entity == "submission" and topic is not PROCESSING_FAILED

    def waiting(self) -> str | None:
        """What this consumer waits on, for /readyz; None when it does not."""
        h = self.waiting_on
        return None if h is None else f"waiting: {self.topic.name} {h.describe()}"

    def waiting_seconds(self) -> float:
        """How long the message it waits on has been failing (0: none), for /metrics."""
        h = self.waiting_on
        return 0.0 if h is None else h.waited_seconds()

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
        tries = 0
        while True:
            tries += 1
            try:
                with one_writer(self.engine), Session(self.engine) as session:
                    if not self._apply_in(session, d):
                        return False
                    session.commit()
                return True
            except IntegrityError:
                # A concurrent replay that committed first, or the handler breaking a constraint:
                # only the processed-event table tells which. A constraint can also be another
                # writer's row committed meanwhile (two consumers of this service inserting one
                # key), which a fresh transaction sees and handles: so it is tried once more, and
                # only a repeat is the handler's own, deterministic (failures.py): dead-lettered
                # with its reason, never a silent drop.
                with Session(self.engine) as session:
                    if already_processed(session, d.env.id):
                        return False
                if tries == 2:
                    raise

    # --- the policy ------------------------------------------------------------------------

    async def dead_letter(self, d: Delivery, history: FailureHistory, verdict: str) -> None:
        """`d` to the topic's DLQ with its history; when it is about a submission, the
        submission's failure is announced first (its id derives from the message's, so a
        dead-lettering repeated after a crash announces nothing twice)."""
        record = d.record
        if self.announces and (about := about_submission(d)):
            await self._announce(d, about, history, verdict)
        await self.broker.publish(
            d.body, self.topic.dlq, key=record.key,
            headers=dlq_headers(d.headers, record, self.group, history, verdict),
        )
        metrics.consumed(self, "dead_lettered")
        log.error("message dead-lettered", extra={
            "topic": self.topic.name, "offset": record.offset, "partition": record.partition,
            "error": repr(history.last), "failure": verdict, "attempts": history.attempts,
            "error_types": history.error_types, "dlq": self.topic.dlq,
        })

    async def _announce(self, d: Delivery, about: tuple[str, str], history: FailureHistory, verdict: str) -> None:
        submission_id, participant_id = about
        origin = d.env.id if d.env else d.headers.get("ce_id") or f"{d.record.topic}/{d.record.partition}/{d.record.offset}"
        event = SubmissionProcessingFailed(
            submission_id=submission_id, participant_id=participant_id, stage=self.service, topic=self.topic.name,
            event_id=d.env.id if d.env else None, reason_code="PROCESSING_FAILED", failure=verdict,
            error_type=type(history.last).__name__[:200], attempts=history.attempts,
            failed_at=history.first_failed_at)
        env = make_envelope(PROCESSING_FAILED.ce_type, f"urn:uise:{self.service}", participant_id,
                            event_id=f"{origin}/{self.service}/processing-failed")
        await self.broker.publish(event.model_dump_json().encode(), PROCESSING_FAILED.name,
                                  key=participant_id.encode(), headers=env.headers())

    async def _one_at_a_time(self, d: Delivery) -> bool:
        """Apply `d` in its own transaction under the retry policy; False when it ended in the
        DLQ. While it fails transiently the runner says it waits (`waiting`)."""
        history = FailureHistory()
        try:
            while True:
                try:
                    processed = await asyncio.to_thread(self.apply, d)
                except Exception as exc:
                    metrics.consumed(self, "failed")
                    history.failed(exc)
                else:
                    metrics.consumed(self, "processed" if processed else "duplicate")
                    if processed:
                        self.after_commit()
                    if history.attempts:
                        log.info("handler succeeded after waiting", extra={
                            "topic": self.topic.name, "attempts": history.attempts + 1,
                            "waited_seconds": round(history.waited_seconds(), 1)})
                    return True
                verdict = self.policy.verdict(history)
                if verdict is not None:
                    await self.dead_letter(d, history, verdict)
                    return False
                self.waiting_on = history
                log.warning("handler failed transiently; the partition waits", extra={
                    "topic": self.topic.name, "offset": d.record.offset, "partition": d.record.partition,
                    "attempt": history.attempts, "error": repr(history.last),
                    "waited_seconds": round(history.waited_seconds(), 1)})
                await self._pause(self.policy.delay(history.attempts))
        finally:
            self.waiting_on = None

    async def _pause(self, seconds: float) -> None:
        """Sleep between attempts; raises Stopping as soon as the subscriber is being stopped,
        since FastStream holds a shutdown for its graceful timeout (15 s) while a handler runs.
        The message is not committed and comes again to whoever consumes next."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            if self.subscriber is not None and not self.subscriber.running:
                raise Stopping(f"{self.topic.name}: stopped while waiting")
            await asyncio.sleep(min(left, 0.5))

    async def __call__(self, records: Sequence[Any]) -> None:
        """Handle one poll's records, in their order (which is per-partition order)."""
        batch: list[Delivery] = []
        for record in records:
            d = Delivery.of(record)
            try:
                d.env, d.event = decode(self.topic, d.headers, d.body)
            except Malformed as exc:
                history = FailureHistory()
                history.failed(exc)
                await self.dead_letter(d, history, DETERMINISTIC)
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
                "topic": self.topic.name, "size": len(batch), "error": repr(exc.cause),
                "offset": exc.delivery.record.offset if exc.delivery else None})
            # a dead-lettered message is not marked seen: a re-drive must reach the handler
            batch = [d for d in batch if await self._one_at_a_time(d)]
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
    runner.subscriber = broker.subscriber(
        runner.topic.name,
        group_id=runner.group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_interval_ms=runner.policy.max_poll_interval_ms,  # waiting on an outage is not death
        batch=True,
        max_records=BATCH_MAX_RECORDS,
        batch_timeout_ms=BATCH_WAIT_MS,
        decoder=_raw_body,
        title=handle.__name__,
    )
    runner.subscriber(handle)
