"""The consumer policy every UISE handler runs under, as small composable steps:

    decode  -> malformed? straight to the DLQ (retrying cannot fix it)
    dedupe  -> seen before? acknowledge and skip
    apply   -> one DB transaction: handler state + outbox rows + processed-event id
    retry   -> a failing apply is retried in place with backoff, then dead-lettered
    ack     -> the offset is committed only after all of that (AckPolicy.NACK_ON_ERROR:
               if even the DLQ publish fails, the message is rewound and comes again)

A handler is a plain function `(event, session) -> list[events to emit]`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from uise_common import metrics
from uise_common.idempotency import SeenCache, already_processed, record_processed
from uise_common.outbox import add_event
from uise_common.telemetry import tag_submission
from uise_contracts import Envelope
from uise_contracts.topics import Topic

log = logging.getLogger(__name__)

Handler = Callable[[Any, Session], list[BaseModel]]


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
    ) -> None:
        self.service = service
        self.topic = topic
        self.handler = handler
        self.engine = engine
        self.broker = broker
        self.seen = seen
        self.after_commit = after_commit
        self.policy = policy
        self.group = f"uise-{service}.{topic.name}"  # one group per topic: no cross-topic rebalances

    def apply(self, env: Envelope, event: BaseModel) -> bool:
        """One transaction. Returns False when the event had been processed already."""
        with Session(self.engine) as session:
            if already_processed(session, env.id):
                return False
            emitted = self.handler(event, session)
            for i, out in enumerate(emitted):
                # deterministic ids: a replay that slipped past the dedupe writes the same ids
                add_event(session, out, self.service, event_id=f"{env.id}/{self.service}/{i}")
            record_processed(session, env.id, self.topic.name)
            try:
                session.commit()
            except IntegrityError:  # a concurrent replay committed first
                session.rollback()
                return False
        return True

    async def dead_letter(self, body: bytes, key: bytes | None, headers: dict[str, str], record: Any,
                          error: BaseException, attempts: int) -> None:
        await self.broker.publish(
            body, self.topic.dlq, key=key,
            headers=dlq_headers(headers, record, self.group, error, attempts),
        )
        metrics.consumed(self, "dead_lettered")
        log.error("message dead-lettered", extra={
            "topic": self.topic.name, "offset": record.offset, "partition": record.partition,
            "error": repr(error), "dlq": self.topic.dlq,
        })

    async def __call__(self, msg: Any) -> None:
        record = msg.raw_message
        headers = {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                   for k, v in (record.headers or ())}
        body: bytes = record.value or b""
        try:
            env, event = decode(self.topic, headers, body)
        except Malformed as exc:
            await self.dead_letter(body, record.key, headers, record, exc, 0)
            return
        tag_submission(getattr(event, "submission_id", None))
        if await self.seen.seen(env.id):
            metrics.consumed(self, "duplicate")
            return
        for attempt in range(self.policy.attempts):
            try:
                processed = await asyncio.to_thread(self.apply, env, event)
            except Exception as exc:
                metrics.consumed(self, "failed")
                if attempt + 1 >= self.policy.attempts:
                    await self.dead_letter(body, record.key, headers, record, exc, attempt + 1)
                    return
                log.warning("handler failed, retrying", extra={
                    "topic": self.topic.name, "attempt": attempt + 1, "error": repr(exc)})
                await asyncio.sleep(self.policy.delay(attempt))
                continue
            metrics.consumed(self, "processed" if processed else "duplicate")
            if processed:
                self.after_commit()
            await self.seen.mark(env.id)
            return


async def _raw_body(msg: Any) -> bytes:
    """Leave decoding to the runner: FastStream would otherwise parse JSON bodies itself and
    fail before a malformed one could reach the DLQ."""
    return msg.body


def subscribe(broker: KafkaBroker, runner: ConsumerRunner) -> None:
    """Register the runner with FastStream: its own consumer group, from the earliest offset,
    offsets committed only after the runner returns."""

    async def handle(msg: KafkaMessage) -> None:
        with metrics.consuming(runner):  # received, and the processing time
            await runner(msg)

    handle.__name__ = f"{runner.service}_{runner.topic.name.replace('.', '_').replace('-', '_')}"
    broker.subscriber(
        runner.topic.name,
        group_id=runner.group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_records=50,
        decoder=_raw_body,
        title=handle.__name__,
    )(handle)

