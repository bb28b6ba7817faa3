"""Large submissions through validation as deployed (issue 14): its consumers and outbox relay on
the tansu broker with a real producer, its documents and claims on moto's S3.

- The issue's hostile school: a JSON document whose text cell holds 2 MB. Validation refuses the
  cell (TEXT_TOO_LONG, the value shown cut short), its event stays a few kilobytes, and the
  submissions behind it are validated and published too.
- A form as large as a national one, every one of its 700 text cells filled to the brim (1,000
  characters): about 1.4 MB of figures, accepted. The event carries them by reference (the claim
  check) and they come back whole, checked against their hash.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import date

import pytest
from aiokafka import AIOKafkaConsumer

from uise_common.broker import ensure_topics
from uise_common.claimcheck import ClaimCheck
from uise_common.db import migrate
from uise_common.outbox import RECORD_MAX_BYTES
from uise_common.service import ServiceRuntime, with_common
from uise_common.settings import Settings
from uise_common.testing import moto_s3, tansu_in_memory
from uise_contracts import make_envelope
from uise_contracts.events import (
    FieldType,
    FormField,
    FormListApproved,
    SignatureChecked,
    SubmissionValidated,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_contracts.topics import topic_for
from uise_validation.adapters import MIGRATIONS
from uise_validation.entrypoint import SPEC

pytestmark = pytest.mark.integration
SCHOOL = "220440000019"
GOOD = {"pupils_total": 20, "pupils_girls": 12, "pupils_boys": 8, "classes": 2, "teachers": 3}
NOTES = 700
BIG_FORM = SCHOOL_FORM.model_copy(update={
    "code": "NOTES-1", "title_en": "Notes on every class", "rules": [],
    "fields": [FormField(code=f"note_{n}", title=f"Note {n}", type=FieldType.text, aggregate="none")
               for n in range(NOTES)]})


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    with tansu_in_memory() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


async def produce(rt: ServiceRuntime, event, source: str) -> None:
    topic = topic_for(event)
    env = make_envelope(topic.ce_type, f"urn:uise:{source}", str(getattr(event, topic.key)))
    await rt.broker.publish(event.model_dump_json().encode(), topic.name, key=str(getattr(event, topic.key)).encode(),
                            headers=env.headers())


async def validated(bootstrap: str, expect: int, timeout: float = 120) -> dict[str, tuple[int, SubmissionValidated]]:
    """submission_id -> (the record's size, the event) of what validation published."""
    c = AIOKafkaConsumer(topic_for(SubmissionValidated).name, bootstrap_servers=bootstrap,
                         auto_offset_reset="earliest", enable_auto_commit=False)
    await c.start()
    out: dict = {}
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while len(out) < expect and loop.time() < end:
            for records in (await c.getmany(timeout_ms=500)).values():
                for r in records:
                    event = SubmissionValidated.model_validate_json(r.value)
                    out[event.submission_id] = (len(r.value), event)
    finally:
        await c.stop()
    return out


async def test_a_2_mb_text_field_and_a_form_of_1_4_mb_leave_validation_and_its_outbox_goes_on(tmp_path, kafka, s3):
    rt = ServiceRuntime(SPEC, Settings(service_name="validation", data_dir=tmp_path, kafka_bootstrap=kafka,
                                       s3_endpoint=s3, s3_bucket="largetest"))
    migrate(rt.engine, with_common(MIGRATIONS))
    rt.store.ensure_bucket()
    await ensure_topics(kafka)
    documents = {
        "hostile": json.dumps({**GOOD, "comment": "ж" * 1_000_000}, ensure_ascii=False).encode(),  # 2 MB
        "national": json.dumps({f"note_{n}": "ә" * 1000 for n in range(NOTES)}, ensure_ascii=False).encode(),
        "after": json.dumps(GOOD).encode(),
    }
    assert len(documents["hostile"]) > 2_000_000 and len(documents["national"]) > 1_400_000
    await rt.broker.start()
    rt.relay.poll_seconds = 0.1
    rt.relay.start()
    try:
        await produce(rt, FormListApproved(year=2026, version=1, order_no="1", order_date=date(2026, 1, 15),
                                           forms=[SCHOOL_FORM, BIG_FORM]), "registry")
        for sid, data in documents.items():
            stored = rt.store.put(data, "documents", "application/json")
            form = BIG_FORM.code if sid == "national" else SCHOOL_FORM.code
            await produce(rt, SignatureChecked(submission_id=sid, participant_id=SCHOOL, form_code=form,
                                               period="2026", document=stored, ok=True), "signature")
        published = await validated(kafka, expect=3)
    finally:
        await rt.relay.stop()
        await rt.broker.stop()

    assert set(published) == {"hostile", "national", "after"}
    size, hostile = published["hostile"]
    assert not hostile.ok and size < 16 * 1024 and hostile.claim is None
    [too_long] = [f for f in hostile.findings if f.rule == "TEXT_TOO_LONG"]
    assert too_long.field == "comment" and len(too_long.observed["comment"]) < 100  # shown cut short

    size, national = published["national"]
    assert national.ok and size < 16 * 1024 < RECORD_MAX_BYTES
    assert national.claim is not None and national.values == {}
    whole = ClaimCheck(rt.store).resolve(national)  # what intake, routing's readers and reporting see
    assert len(whole.values) == NOTES and set(whole.values.values()) == {"ә" * 1000}

    size, after = published["after"]
    assert after.ok and after.values["pupils_total"] == 20  # the outbox went on behind them
