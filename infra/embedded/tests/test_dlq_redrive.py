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
from uise_contracts.topics import BY_NAME, TOPICS
from uise_stack.dlq import depths, drain, forgery_reason

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


def test_durations_read_as_an_operator_writes_them():
    from uise_stack.dlq import seconds

    assert [seconds(t) for t in ("90", "90s", "30m", "2h", "1d", "1.5h")] == [90, 90, 1800, 7200, 86400, 5400]
    with pytest.raises(ValueError, match="a duration"):
        seconds("soon")


@pytest.mark.integration
async def test_list_filters_show_one_and_redrive_only_the_selected(kafka_bootstrap):
    from uise_stack.dlq import Selection, show

    topic = BY_NAME["uise.submission.validated.v1"]
    await ensure_topics(kafka_bootstrap, (topic,))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        copies = []
        for n, (group, error) in enumerate((("uise-routing.x", "NotYetKnown"), ("uise-intake.x", "Malformed"),
                                            ("uise-routing.x", "ValueError"))):
            env = ENVELOPE | {"ce_id": str(uuid.uuid4()), "ce_type": topic.ce_type}
            sent = await producer.send_and_wait(topic.name, f'{{"n": {n}}}'.encode(), key=b"p-1",
                                                headers=[(k, v.encode()) for k, v in env.items()])
            copy = dlq_copy(record(f'{{"n": {n}}}'.encode(), env), topic.name, partition=sent.partition,
                            offset=sent.offset)
            headers = {k: v.decode() for k, v in copy.headers} | {"x-consumer-group": group, "x-error-type": error}
            copies.append(await producer.send_and_wait(topic.dlq, copy.value, key=copy.key,
                                                       headers=[(k, v.encode()) for k, v in headers.items()]))
    finally:
        await producer.stop()

    everything = await drain(kafka_bootstrap, topic.dlq, redrive=False, idle_ms=1500)
    assert [r["x-error-type"] for r in everything] == ["NotYetKnown", "Malformed", "ValueError"]
    routing = await drain(kafka_bootstrap, topic.dlq, False, 1500, select=Selection(group="uise-routing.x"))
    assert [r["x-error-type"] for r in routing] == ["NotYetKnown", "ValueError"]
    assert await drain(kafka_bootstrap, topic.dlq, False, 1500, select=Selection(older_than=3600)) == []
    assert len(await drain(kafka_bootstrap, topic.dlq, False, 1500, select=Selection(newer_than=3600))) == 3

    one = await show(kafka_bootstrap, topic.dlq, copies[1].offset, idle_ms=1500)
    assert one["body"] == '{"n": 1}' and one["headers"]["x-error-type"] == "Malformed"
    assert await show(kafka_bootstrap, topic.dlq, 999, idle_ms=1500) is None

    chosen = await drain(kafka_bootstrap, topic.dlq, redrive=True, idle_ms=1500,
                         select=Selection(error_type="NotYetKnown"))
    assert [(r["offset"], r.get("redriven")) for r in chosen] == [(copies[0].offset, True)]
    on_topic = await read_all(kafka_bootstrap, topic.name)
    assert [r.value for r in on_topic] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}', b'{"n": 0}']  # only n=0 again
    # a selection moves no position: re-driving everything afterwards still sees all three
    assert len(await drain(kafka_bootstrap, topic.dlq, redrive=True, idle_ms=1500)) == 3


async def dead_letters(bootstrap: str, topic, kinds: list[tuple[str, str]]) -> list:
    """One original record and its faithful DLQ copy per (group, error type); the copies' metadata."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        copies = []
        for n, (group, error) in enumerate(kinds):
            env = ENVELOPE | {"ce_id": str(uuid.uuid4()), "ce_type": topic.ce_type}
            body = f'{{"n": {n}}}'.encode()
            sent = await producer.send_and_wait(topic.name, body, key=b"p-1",
                                                headers=[(k, v.encode()) for k, v in env.items()])
            copy = dlq_copy(record(body, env), topic.name, partition=sent.partition, offset=sent.offset)
            headers = {k: v.decode() for k, v in copy.headers} | {"x-consumer-group": group, "x-error-type": error}
            copies.append(await producer.send_and_wait(topic.dlq, copy.value, key=copy.key,
                                                       headers=[(k, v.encode()) for k, v in headers.items()]))
        return copies
    finally:
        await producer.stop()


@pytest.mark.integration
async def test_discarded_messages_are_audited_hidden_from_the_list_and_never_redriven(kafka_bootstrap):
    from uise_stack.dlq import Selection, discard, discarded

    topic = BY_NAME["uise.submission.queried.v1"]
    await ensure_topics(kafka_bootstrap, (topic,))
    copies = await dead_letters(kafka_bootstrap, topic, [("uise-intake.x", "Malformed"), ("uise-intake.x", "ValueError"),
                                                         ("uise-intake.x", "Malformed"), ("uise-intake.x", "NotYetKnown")])
    assert await discarded(kafka_bootstrap, topic.dlq) == {}  # never discarded: no audit topic yet
    with pytest.raises(ValueError, match="selection"):
        await discard(kafka_bootstrap, topic.dlq, Selection(), "all of it", "ops")  # never everything at once

    one = await discard(kafka_bootstrap, topic.dlq, Selection(offsets=frozenset({copies[1].offset})),
                        "a test school's document, withdrawn by its head", "a.operator", "admin", idle_ms=1500)
    poison = await discard(kafka_bootstrap, topic.dlq, Selection(error_type="Malformed"), "poison from a fuzzer",
                           "b.operator", idle_ms=1500)
    assert [r["offset"] for r in one] == [copies[1].offset]
    assert [r["offset"] for r in poison] == [copies[0].offset, copies[2].offset]
    assert await discard(kafka_bootstrap, topic.dlq, Selection(error_type="Malformed"), "again", "c", idle_ms=1500) == []

    listed = await drain(kafka_bootstrap, topic.dlq, redrive=False, idle_ms=1500)
    assert [r["offset"] for r in listed] == [copies[3].offset]  # only what nobody discarded
    gone = await drain(kafka_bootstrap, topic.dlq, redrive=False, idle_ms=1500, show_discarded=True)
    assert [(r["offset"], r["discarded"]["reason"], r["discarded"]["by"]) for r in gone] == [
        (copies[0].offset, "poison from a fuzzer", "b.operator"),
        (copies[1].offset, "a test school's document, withdrawn by its head", "a.operator"),
        (copies[2].offset, "poison from a fuzzer", "b.operator")]
    assert gone[1]["discarded"]["principal"] == "admin" and gone[1]["discarded"]["at"]
    audit = await discarded(kafka_bootstrap, topic.dlq)
    assert audit[copies[1].offset]["x-error-type"] == "ValueError"
    assert audit[copies[1].offset]["x-original-topic"] == topic.name

    redriven = await drain(kafka_bootstrap, topic.dlq, redrive=True, idle_ms=1500)
    assert [(r["offset"], r.get("redriven")) for r in redriven] == [(copies[3].offset, True)]
    assert [r.value for r in await read_all(kafka_bootstrap, topic.name)][-1] == b'{"n": 3}'


@pytest.mark.integration
def test_the_discard_command_wants_a_selection_and_a_reason_and_lists_the_discarded(kafka_bootstrap, capsys):
    import asyncio

    from uise_stack.dlq import main

    topic = BY_NAME["uise.submission.explained.v1"]
    asyncio.run(ensure_topics(kafka_bootstrap, (topic,)))
    copies = asyncio.run(dead_letters(kafka_bootstrap, topic, [("uise-validation.x", "ValueError")] * 2))
    at = ["--bootstrap", kafka_bootstrap]
    assert main(["discard", topic.dlq, str(copies[0].offset), *at]) == 2  # no reason
    assert main(["discard", topic.dlq, "--reason", "why not", *at]) == 2  # no selection
    capsys.readouterr()
    assert main(["discard", topic.dlq, str(copies[0].offset), "--reason", "duplicate of a re-sent form",
                 "--by", "duty-engineer", *at]) == 0
    assert "1 message(s) discarded" in capsys.readouterr().out
    assert main(["list", topic.dlq, *at]) == 0
    out = capsys.readouterr().out
    assert f"'offset': {copies[1].offset}," in out and f"'offset': {copies[0].offset}," not in out
    assert main(["list", topic.dlq, "--discarded", *at]) == 0
    out = capsys.readouterr().out
    assert "duplicate of a re-sent form" in out and "duty-engineer" in out and "1 message(s) listed" in out


@pytest.mark.integration
async def test_depths_counts_what_every_dlq_holds_without_reading_it(kafka_bootstrap):
    await ensure_topics(kafka_bootstrap)  # every contract topic and its DLQ
    before = await depths(kafka_bootstrap)
    assert set(before) == {t.dlq for t in TOPICS}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(2):
            await producer.send_and_wait(ACCEPTED.dlq, f'{{"n": {n}}}'.encode(), partition=0)
    finally:
        await producer.stop()
    after = await depths(kafka_bootstrap)
    assert {t: n - before[t] for t, n in after.items() if n != before[t]} == {ACCEPTED.dlq: 2}
