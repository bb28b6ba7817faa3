"""The claim check on moto's S3 and the tansu broker: a submission's large figures and findings
travel by reference, are checked against their hash when read, and come back whole; a service
without object storage passes the reference on; a tampered object is refused."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from uise_common.broker import ensure_topics, make_broker
from uise_common.claimcheck import CLAIM_ABOVE_BYTES, ClaimCheck, ClaimInvalid
from uise_common.consumer import ConsumerRunner, RetryPolicy, subscribe
from uise_common.idempotency import SeenCache
from uise_common.objectstore import ObjectStore
from uise_common.outbox import RECORD_MAX_BYTES, OutboxRelay, OutboxRow, add_event
from uise_common.settings import Settings
from uise_contracts.events import (
    Finding,
    SubmissionAccepted,
    SubmissionValidated,
    TimelinessRecorded,
)
from uise_contracts.topics import Topic

pytestmark = pytest.mark.integration
CELLS = 700  # text cells of 1,000 characters: about 1.4 MB of figures (2 bytes a character)


@pytest.fixture
def store(s3_endpoint) -> ObjectStore:
    s = ObjectStore.from_settings(Settings(s3_endpoint=s3_endpoint, s3_bucket=f"claims{uuid.uuid4().hex[:8]}"))
    s.ensure_bucket()
    return s


def large_validated(sid: str = "s1") -> SubmissionValidated:
    values = {f"notes.r{n}.text": "ж" * 1000 for n in range(CELLS)}
    return SubmissionValidated(
        submission_id=sid, participant_id="220440000019", form_code="BIG-1", period="2026", ok=True,
        values=values, values_exact=dict(values), form_version=3,
        findings=[Finding(rule="Q1", severity="warning", message="unusual", field="notes.r1.text")])


def test_a_large_event_travels_by_reference_and_comes_back_whole(store):
    claims = ClaimCheck(store)
    event = large_validated()
    assert len(event.model_dump_json().encode()) > RECORD_MAX_BYTES  # the case: the broker would refuse it
    claimed = claims.check_in(event)
    assert claimed.claim is not None and claimed.claim.key.startswith("claims/sha256/")
    assert (claimed.values, claimed.values_exact, claimed.findings) == ({}, {}, [])
    assert claimed.form_version == 3 and claimed.submission_id == "s1"  # the rest stays in the event
    assert len(claimed.model_dump_json().encode()) < 4096
    assert claims.resolve(claimed) == event
    assert claims.check_in(event).claim == claimed.claim  # the same figures make the same object


def test_a_small_event_or_one_that_claims_nothing_is_left_as_it_is(store):
    claims = ClaimCheck(store)
    small = SubmissionValidated(submission_id="s", participant_id="p", form_code="F", period="2026", ok=True,
                                values={"pupils": 810})
    assert claims.check_in(small) is small and claims.resolve(small) is small
    other = TimelinessRecorded(submission_id="s", participant_id="p", form_code="F", period="2026",
                               delivered_at=datetime.now(UTC), deadline_at=None, on_time=None)
    assert claims.check_in(other) is other


def test_a_tampered_or_foreign_object_is_refused_for_good(store):
    claims = ClaimCheck(store, above_bytes=1024)
    claimed = claims.check_in(large_validated())
    forged = b'{"values": {"notes.r1.text": "forged"}}'
    store.client.put_object(store.bucket, claimed.claim.key, io.BytesIO(forged), len(forged))  # rewritten in place
    with pytest.raises(ClaimInvalid, match="does not match sha256"):
        claims.resolve(claimed)
    not_an_object = store.put(b'["values"]', "claims", "application/json")
    with pytest.raises(ClaimInvalid, match="not a JSON object"):
        claims.resolve(claimed.model_copy(update={"claim": not_an_object}))
    wrong_shape = store.put(b'{"values": "eight hundred"}', "claims", "application/json")
    with pytest.raises(ClaimInvalid):
        claims.resolve(claimed.model_copy(update={"claim": wrong_shape}))


def topic_of(model, name: str) -> Topic:
    return Topic("claimtest", f"{name}{uuid.uuid4().hex[:6]}", 1, model, "participant_id", ("test",), ("test",),
                 partitions=1)


async def test_through_the_outbox_a_service_without_storage_and_a_consumer_that_resolves(
        tmp_path, store, kafka_bootstrap, outbox_engine):
    """validation (object storage) emits the large event → routing (none) passes the claim on in
    its own event → reporting (object storage) reads it whole. Real producer, broker and S3."""
    claims = ClaimCheck(store)
    validated_topic, accepted_topic = topic_of(SubmissionValidated, "validated"), topic_of(SubmissionAccepted, "accepted")
    await ensure_topics(kafka_bootstrap, (validated_topic, accepted_topic))
    original = large_validated()
    with Session(outbox_engine) as s:  # what validation's runner does with its handler's event
        row = add_event(s, original, "validation", claims=claims)
        row.topic = validated_topic.name  # this test's own topic
        written = len(row.body.encode())
        s.commit()
    assert written < CLAIM_ABOVE_BYTES

    broker = make_broker(Settings(kafka_bootstrap=kafka_bootstrap, service_name="claimtest"))
    seen_by_routing: list[SubmissionValidated] = []
    seen_by_reporting: list[SubmissionAccepted] = []

    def routing(event: SubmissionValidated, session) -> list:
        seen_by_routing.append(event)
        return [SubmissionAccepted(submission_id=event.submission_id, participant_id=event.participant_id,
                                   recipient_id="210340000013", form_code=event.form_code, period=event.period,
                                   values=event.values, values_exact=event.values_exact, findings=event.findings,
                                   claim=event.claim)]

    def reporting(event: SubmissionAccepted, session) -> list:
        seen_by_reporting.append(event)
        return []

    def runner(service, topic, handler, with_claims):
        return ConsumerRunner(service=service, topic=topic, handler=handler, engine=outbox_engine, broker=broker,
                              seen=SeenCache(None, service), after_commit=lambda: None, policy=RetryPolicy(backoff_seconds=0.05, dlq_after_attempts=3),
                              claims=claims if with_claims else None)

    subscribe(broker, runner("routing", validated_topic, routing, with_claims=False))
    subscribe(broker, runner("reporting", accepted_topic, reporting, with_claims=True))
    await broker.start()

    async def publish(body: bytes, topic: str, key: bytes, headers: dict):
        if topic == "uise.submission.accepted.v1":
            topic = accepted_topic.name  # routing's event, onto this test's topic
        return await broker.publish(body, topic, key=key, headers=headers, no_confirm=True)

    relay = OutboxRelay(outbox_engine, publish)
    try:
        assert await relay.flush() == 1
        for _ in range(300):
            if seen_by_routing:
                break
            await asyncio.sleep(0.1)
        assert await relay.flush() == 1  # routing's submission.accepted
        for _ in range(300):
            if seen_by_reporting:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    assert seen_by_routing[0].values == {} and seen_by_routing[0].claim is not None  # routing never read it
    accepted = seen_by_reporting[0]
    assert accepted.values == original.values and accepted.findings == original.findings
    assert accepted.claim is None
    with Session(outbox_engine) as s:
        bodies = [r.body for r in s.exec(select(OutboxRow))]
    assert len(bodies) == 2 and all(len(b.encode()) < 4096 for b in bodies)
    assert json.loads(bodies[1])["claim"] == json.loads(bodies[0])["claim"]  # the same object, passed on
