"""Malformed and oversized messages on every input topic of every service, on a real broker.

Each service runs as it does in production (its lifespan: migrations, its consumers subscribed to
a tansu broker of its own, the outbox relay, background work) with its read model holding the demo.
On each topic it reads, in one partition and in this order, come a body that is not JSON, JSON that
is not the topic's event, an event without its envelope headers, an event of about 950 KB
(more than any outbox sends, RECORD_MAX_BYTES), then a valid event. Every bad one must be in the topic's DLQ with its
reason, the valid one processed after them, and the consumers still running. The counts are
printed per service."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel
from sqlmodel import Session

from uise_common.broker import ensure_topics
from uise_common.idempotency import already_processed
from uise_common.outbox import RECORD_MAX_BYTES
from uise_common.service import ServiceRuntime
from uise_common.testing import tansu_in_memory
from uise_contracts import events as e
from uise_contracts import make_envelope
from uise_contracts.examples import EXAMPLES
from uise_contracts.topics import Topic, topic_for
from uise_stack.config import SERVICES
from uise_stack.demo import figures
from uise_stack.k8s_keda import consumed

pytestmark = pytest.mark.integration

OVERSIZED = 950 * 1024  # over what any outbox sends (RECORD_MAX_BYTES), under the broker's 1 MiB


def bad_messages(topic: Topic, valid: BaseModel) -> list[tuple[str, bytes, dict[str, str]]]:
    """(what, body, headers) of each message a consumer must set aside."""
    envelope = make_envelope(topic.ce_type, "urn:uise:fuzz", "fuzz").headers
    body = valid.model_dump_json().encode()
    padded = json.dumps({**json.loads(body), "padding": "x" * OVERSIZED}).encode()  # the event, and more
    assert len(padded) > RECORD_MAX_BYTES
    return [("not JSON", b'{"submission_id": "6f25', envelope()),
            ("not the topic's event", b'{"unexpected": [1, 2, 3]}', envelope()),
            ("no envelope", body, {"content-type": "application/json"}),
            ("oversized", padded, envelope())]


# --- what each service must have seen before the contracts' example of a topic is valid for it ---


def stored_documents(rt: ServiceRuntime) -> dict[type, BaseModel]:
    """The examples whose event points into object storage, pointing at objects that are there:
    the submission's document (its figures as JSON) and a signature (not a valid CMS, which is
    the signature check's own finding)."""
    rt.store.ensure_bucket()
    document = rt.store.put(json.dumps(figures(412, 398)).encode(), "documents", "application/json")
    signature = rt.store.put(b"0\x00", "signatures", "application/pkcs7-signature")
    return {e.SubmissionReceived: EXAMPLES[e.SubmissionReceived].model_copy(
                update={"document": document, "signature": signature}),
            e.SignatureChecked: EXAMPLES[e.SignatureChecked].model_copy(update={"document": document})}


def recorded_upload(rt: ServiceRuntime, world, examples: dict[type, BaseModel]) -> None:
    """Intake recorded the example submission at its upload: its outcomes are about it."""
    from uise_intake.adapters import Submission

    received = examples[e.SubmissionReceived]
    with Session(rt.engine) as s:
        s.add(Submission(submission_id=received.submission_id, participant_id=received.participant_id,
                         recipient_id=EXAMPLES[e.SubmissionAccepted].recipient_id, form_code=received.form_code,
                         period=received.period, document_key=received.document.key,
                         document_sha256=received.document.sha256, signature_key=received.signature.key,
                         signature_sha256=received.signature.sha256, media_type=received.document.media_type,
                         delivered_at=received.delivered_at))
        s.commit()


def heard_upstream(*models: type):
    """The service heard these examples first (its own handlers), as it would have on the way."""

    def prepare(rt: ServiceRuntime, world, examples: dict[type, BaseModel]) -> None:
        world.hear(rt, [(topic_for(m), examples[m]) for m in models])

    return prepare


PREPARE = {
    "intake": recorded_upload,
    "validation": heard_upstream(e.SignatureChecked),  # an explanation is about a judged submission
    "reporting": heard_upstream(e.SubmissionAccepted),  # a consolidation includes an accepted one
}


# --- the broker side ------------------------------------------------------------------------------


async def publish(kafka: str, messages: list[tuple[Topic, bytes, dict[str, str]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        for topic, body, headers in messages:
            await producer.send_and_wait(topic.name, body, key=b"fuzz",
                                         headers=[(k, v.encode()) for k, v in headers.items()])
    finally:
        await producer.stop()


class DeadLetters:
    """What reaches the DLQs of `topics` from `service`'s consumer groups, as it arrives."""

    def __init__(self, kafka: str, service: str, topics: list[Topic]) -> None:
        self.groups = {f"uise-{service}.{t.name}": t for t in topics}
        self.consumer = AIOKafkaConsumer(*(t.dlq for t in topics), bootstrap_servers=kafka,
                                         auto_offset_reset="earliest", enable_auto_commit=False,
                                         fetch_max_bytes=8 * 1024 * 1024, max_partition_fetch_bytes=4 * 1024 * 1024)
        self.by_topic: dict[str, list[tuple[bytes, dict[str, str]]]] = {t.name: [] for t in topics}

    async def read(self) -> None:
        for records in (await self.consumer.getmany(timeout_ms=200)).values():
            for record in records:
                headers = {k: v.decode() for k, v in record.headers}
                topic = self.groups.get(headers.get("x-consumer-group", ""))
                if topic is not None:
                    self.by_topic[topic.name].append((record.value, headers))


async def until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not in {timeout:.0f} s: {what}")
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("service", [s for s in SERVICES if consumed(s)])
async def test_bad_messages_go_to_the_dlq_and_every_consumer_goes_on(service, tmp_path, world):
    with tansu_in_memory() as kafka:
        await ensure_topics(kafka)
        rt = world.runtime(service, tmp_path, kafka, retry_attempts=3, retry_backoff_seconds=0.05)
        handlers = rt.spec.consumers(rt)
        topics = list(handlers)
        # every topic the contracts say it reads (less the known gaps) has a consumer, and no other
        assert {t.name for t in topics} == {t.name for t in consumed(service)}

        examples = {**EXAMPLES, **(stored_documents(rt) if rt.store is not None else {})}
        if service in PREPARE:
            PREPARE[service](rt, world, examples)
        messages, valid_ids, sent = [], {}, Counter()
        for topic in topics:
            valid = examples[topic.model]
            for _what, body, headers in bad_messages(topic, valid):
                messages.append((topic, body, headers))
                sent[topic.name] += 1
            envelope = make_envelope(topic.ce_type, "urn:uise:fuzz", "fuzz")
            messages.append((topic, valid.model_dump_json().encode(), envelope.headers()))
            valid_ids[topic.name] = envelope.id

        app = rt.app()
        dead = DeadLetters(kafka, service, topics)
        started = datetime.now(UTC)
        async with app.router.lifespan_context(app):
            await dead.consumer.start()
            try:
                await publish(kafka, messages)

                def processed() -> set[str]:
                    with Session(rt.engine) as s:
                        return {name for name, ce_id in valid_ids.items() if already_processed(s, ce_id)}

                async def settled() -> bool:
                    await dead.read()
                    return (all(len(dead.by_topic[t]) >= n for t, n in sent.items())
                            and await asyncio.to_thread(processed) == set(valid_ids))

                try:
                    await until(settled, 120, "every bad message dead-lettered and every valid one processed")
                except AssertionError:
                    late = {t: (len(dead.by_topic[t]), sent[t]) for t in sent if len(dead.by_topic[t]) < sent[t]}
                    unprocessed = set(valid_ids) - await asyncio.to_thread(processed)
                    errors = {t: [h.get("x-error-message", "")[:200] for _, h in d] for t, d in dead.by_topic.items()
                              if t in unprocessed}
                    raise AssertionError(f"{service}: DLQ short {late}; valid not processed {unprocessed}: {errors}") from None
                running = [sub.running for sub in rt.broker.subscribers]
            finally:
                await dead.consumer.stop()

        assert all(running) and len(running) == len(topics), f"{service}: a consumer stopped"
        for topic in topics:
            letters = dead.by_topic[topic.name]
            assert len(letters) == sent[topic.name], f"{topic.name}: more in the DLQ than the bad messages"
            bodies = [body for _, body, _ in bad_messages(topic, examples[topic.model])]
            assert [b[:64] for b, _ in letters] == [b[:64] for b in bodies], topic.name  # each once, in order
            for _, headers in letters:
                assert headers["x-error-type"] == "Malformed", headers
                assert headers["x-original-topic"] == topic.name
                assert (headers["x-failure"], headers["x-attempts"]) == ("deterministic", "1")  # never retried
            assert letters[3][1]["x-error-message"].startswith("EventTooLarge"), letters[3][1]  # not parsed at all
        tried = sum(sent.values()) + len(valid_ids)
        print(f"\nconsumer fuzz {service}: {len(topics)} input topics, {tried} messages tried, "
              f"{sum(sent.values())} dead-lettered at once, {len(valid_ids)} valid ones processed after them, "
              f"{(datetime.now(UTC) - started).total_seconds():.1f} s")
