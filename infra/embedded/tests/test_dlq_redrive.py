"""uise-dlq re-drives only faithful copies of records on the DLQ's own topic (issue 7): every
consumer of a topic may write its DLQ, and the re-drive runs as the admin, so anything else
would let a consumer put a forged event (a `submission.accepted`) on a topic it cannot write."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from uise_common.broker import ensure_topics
from uise_common.testing import tansu_in_memory
from uise_contracts.topics import BY_NAME
from uise_stack.dlq import drain, forgery_reason

ACCEPTED = BY_NAME["uise.submission.accepted.v1"]


def record(value: bytes, headers: dict[str, str], key: bytes = b"p-1", offset: int = 0):
    return SimpleNamespace(key=key, value=value, offset=offset,
                           headers=[(k, v.encode()) for k, v in headers.items()])


def dlq_copy(original, topic: str, partition: int = 0, offset: int = 0, **changes):
    headers = {k: v.decode() for k, v in original.headers}
    headers.update({"x-original-topic": topic, "x-original-partition": str(partition),
                    "x-original-offset": str(offset), "x-consumer-group": "uise-intake.x",
                    "x-error-type": "ValueError", "x-error-message": "boom", "x-attempts": "8",
                    "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})  # rewritten on publish
    fields = {"key": original.key, "value": original.value, "headers": headers} | changes
    return record(fields["value"], fields["headers"], fields["key"])


ENVELOPE = {"ce_id": "e-1", "ce_type": "kz.edu.uise.submission.accepted.v1", "ce_source": "urn:uise:routing",
            "ce_time": "2026-01-01T00:00:00+05:00", "ce_subject": "s-1", "ce_specversion": "1.0"}


# ---------------------------------------------------------------------------------------------
# the check
# ---------------------------------------------------------------------------------------------


def test_a_faithful_copy_passes():
    original = record(b'{"pupils": 10}', ENVELOPE)
    assert forgery_reason(ACCEPTED.dlq, dlq_copy(original, ACCEPTED.name), original) is None


def test_a_changed_value_is_refused():
    original = record(b'{"pupils": 10}', ENVELOPE)
    forged = dlq_copy(original, ACCEPTED.name, value=b'{"pupils": 999999}')
    assert "value" in forgery_reason(ACCEPTED.dlq, forged, original)


def test_a_changed_envelope_is_refused():
    original = record(b"{}", ENVELOPE)
    headers = {k: v.decode() for k, v in dlq_copy(original, ACCEPTED.name).headers} | {"ce_id": "e-2"}
    assert "CloudEvents" in forgery_reason(ACCEPTED.dlq, record(b"{}", headers), original)


def test_a_record_pointing_at_another_topic_is_refused():
    original = record(b"{}", ENVELOPE)
    elsewhere = dlq_copy(original, "uise.submission.rejected.v1")
    assert "not 'uise.submission.accepted.v1'" in forgery_reason(ACCEPTED.dlq, elsewhere, original)


def test_a_record_whose_original_is_gone_is_refused():
    original = record(b"{}", ENVELOPE)
    assert "not on the topic" in forgery_reason(ACCEPTED.dlq, dlq_copy(original, ACCEPTED.name), None)


# ---------------------------------------------------------------------------------------------
# against a real broker (tansu)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    with tansu_in_memory() as bootstrap:
        yield bootstrap


async def read_all(bootstrap: str, topic: str) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"t-{uuid.uuid4()}", enable_auto_commit=False)
    await consumer.start()
    try:
        out = []
        while batch := await consumer.getmany(timeout_ms=1500):
            out += [r for records in batch.values() for r in records]
        return out
    finally:
        await consumer.stop()


@pytest.mark.integration
async def test_redrive_republishes_copies_and_refuses_forgeries(kafka_bootstrap):
    await ensure_topics(kafka_bootstrap, (ACCEPTED,))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        env = ENVELOPE | {"ce_id": str(uuid.uuid4())}
        sent = await producer.send_and_wait(ACCEPTED.name, b'{"pupils": 10}', key=b"p-1",
                                            headers=[(k, v.encode()) for k, v in env.items()])
        original = record(b'{"pupils": 10}', env)
        at = dict(topic=ACCEPTED.name, partition=sent.partition, offset=sent.offset)
        faithful = dlq_copy(original, **at)
        # what a consumer principal may write on the DLQ: a forged acceptance pointing at a real
        # record, and one pointing at nothing
        forged = dlq_copy(original, **at, value=b'{"pupils": 999999}')
        invented = dlq_copy(original, ACCEPTED.name, partition=sent.partition, offset=sent.offset + 1000,
                            value=b'{"pupils": 999999}')
        for r in (faithful, forged, invented):
            await producer.send_and_wait(ACCEPTED.dlq, r.value, key=r.key, headers=r.headers)
    finally:
        await producer.stop()

    rows = await drain(kafka_bootstrap, ACCEPTED.dlq, redrive=True, idle_ms=1500)

    assert [("refused" in row) for row in rows] == [False, True, True]
    on_topic = await read_all(kafka_bootstrap, ACCEPTED.name)
    assert [r.value for r in on_topic] == [b'{"pupils": 10}', b'{"pupils": 10}']
    redriven = {k: v.decode() for k, v in on_topic[-1].headers}
    assert redriven["ce_id"] == env["ce_id"] and not any(k.startswith("x-") for k in redriven)
