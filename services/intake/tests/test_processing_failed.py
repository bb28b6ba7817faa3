"""Every acknowledged submission reaches one final state (issue 14): when a service dead-letters
an event the submission waits on, intake rejects it with PROCESSING_FAILED, its reason in the
timeline in Kazakh, Russian and English, unless it is final already. On SQLite and PostgreSQL
(READ COMMITTED), and end to end on a real broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from sqlmodel import Session, select

from uise_common.broker import ensure_topics, make_broker
from uise_common.consumer import ConsumerRunner, RetryPolicy, subscribe
from uise_common.idempotency import SeenCache
from uise_common.settings import Settings
from uise_common.testing import migrated_sqlite, tansu_in_memory
from uise_contracts import make_envelope
from uise_contracts.events import (
    SignatureChecked,
    StoredObject,
    SubmissionAccepted,
    SubmissionProcessingFailed,
)
from uise_contracts.topics import topic_for
from uise_intake.adapters import MIGRATIONS, Submission, TimelineEntry
from uise_intake.handlers import on_accepted, on_processing_failed

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
KEY = dict(participant_id="220440000013", form_code="SCH-1", period="2026")
CHECKED = topic_for(SignatureChecked)
FAILED = topic_for(SubmissionProcessingFailed)


def submitted(engine, sid: str, status: str = "signature_checked") -> None:
    with Session(engine) as s:
        s.add(Submission(submission_id=sid, **KEY, document_key="d", document_sha256="0" * 64, signature_key="s",
                         signature_sha256="1" * 64, media_type="application/json", delivered_at=AT, status=status))
        s.commit()


def failure(sid: str, stage: str = "validation", topic: str = CHECKED.name) -> SubmissionProcessingFailed:
    return SubmissionProcessingFailed(submission_id=sid, participant_id=KEY["participant_id"], stage=stage,
                                      topic=topic, event_id="e-1", reason_code="PROCESSING_FAILED",
                                      failure="deterministic", error_type="ValidationError", attempts=1, failed_at=AT)


def handle(engine, handler, event) -> None:
    with Session(engine) as s:
        handler(event, s)
        s.commit()


def state(engine, sid: str) -> tuple[str, str | None, list[tuple[str, dict]]]:
    with Session(engine) as s:
        sub = s.get(Submission, sid)
        steps = [(e.step, json.loads(e.detail)) for e in s.exec(
            select(TimelineEntry).where(TimelineEntry.submission_id == sid).order_by(TimelineEntry.id))]
        return sub.status, sub.reason_code, steps


def test_a_waiting_submission_is_rejected_once_with_its_reason_in_three_languages(engine):
    submitted(engine, "s-1")
    handle(engine, on_processing_failed, failure("s-1"))
    handle(engine, on_processing_failed, failure("s-1"))  # a second dead-lettering of it changes nothing
    status, reason, steps = state(engine, "s-1")
    assert (status, reason) == ("rejected", "PROCESSING_FAILED")
    [(step, detail)] = steps
    assert step == "rejected" and detail["stage"] == "validation" and detail["reason_code"] == "PROCESSING_FAILED"
    assert set(detail["messages"]) == {"kk", "ru", "en"}
    assert all("validation" in text for text in detail["messages"].values())
    assert detail["message"] == detail["messages"]["en"] and detail["error_type"] == "ValidationError"


def test_a_final_submission_stays_as_it_is(engine):
    submitted(engine, "s-2")
    handle(engine, on_accepted, SubmissionAccepted(submission_id="s-2", recipient_id="210340000012", **KEY))
    handle(engine, on_processing_failed, failure("s-2", stage="reporting", topic=topic_for(SubmissionAccepted).name))
    status, reason, steps = state(engine, "s-2")
    assert status == "accepted" and reason is None and [s for s, _ in steps] == ["accepted"]


def test_a_side_record_lost_leaves_the_submission_on_its_way(engine):
    """deadline's timeliness of a received submission is not what the submission waits on."""
    submitted(engine, "s-3", status="received")
    handle(engine, on_processing_failed, failure("s-3", stage="deadline", topic="uise.submission.received.v1"))
    assert state(engine, "s-3") == ("received", None, [])


def test_rejection_and_acceptance_at_once_leave_exactly_one_final_state(engine, monkeypatch):
    """The processing-failed consumer reads the row; acceptance commits before it writes: its
    compare-and-set finds the row changed, judges again and leaves the final state alone."""
    from uise_intake import handlers
    from uise_intake.domain import next_status

    submitted(engine, "s-4", status="validated")
    judged: list[str] = []

    def accepted_lands_meanwhile(current: str, new: str) -> str:
        if not judged:
            judged.append(current)
            handle(engine, on_accepted, SubmissionAccepted(submission_id="s-4", recipient_id="210340000012", **KEY))
        return next_status(current, new)

    monkeypatch.setattr(handlers, "next_status", accepted_lands_meanwhile)
    handle(engine, on_processing_failed, failure("s-4", stage="routing", topic="uise.submission.validated.v1"))
    status, _, steps = state(engine, "s-4")
    assert judged == ["validated"] and status == "accepted" and [s for s, _ in steps] == ["accepted"]


# --- end to end on a real broker -------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    with tansu_in_memory() as bootstrap:
        yield bootstrap


def checked(sid: str) -> SignatureChecked:
    return SignatureChecked(submission_id=sid, **KEY, ok=True,
                            document=StoredObject(key="d", sha256="0" * 64, size=1, media_type="application/json"))


async def eventually(check, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


@pytest.mark.integration
async def test_a_stage_that_refuses_an_event_gets_its_submission_rejected(kafka_bootstrap, tmp_path):
    """A validation-like consumer refuses signature-checked at its first attempt (deterministic):
    the event is dead-lettered, and intake's consumer of processing-failed rejects the submission."""
    intake_db = migrated_sqlite(tmp_path, MIGRATIONS)
    (tmp_path / "stage").mkdir()
    stage_db = migrated_sqlite(tmp_path / "stage", [])
    sid = f"s-{uuid.uuid4().hex[:8]}"
    submitted(intake_db, sid)
    await ensure_topics(kafka_bootstrap, (CHECKED, FAILED))
    attempts: list[str] = []

    def refusing(event: SignatureChecked, session: Session) -> list:
        attempts.append(event.submission_id)
        raise ValueError(f"form {event.form_code} has no version for {event.period}")

    broker = make_broker(Settings(kafka_bootstrap=kafka_bootstrap, service_name="e2e"))
    fast = RetryPolicy(backoff_seconds=0.05, dlq_after_seconds=60)
    for service, topic, handler, engine in (("validation", CHECKED, refusing, stage_db),
                                            ("intake", FAILED, on_processing_failed, intake_db)):
        subscribe(broker, ConsumerRunner(service=service, topic=topic, handler=handler, engine=engine, broker=broker,
                                         seen=SeenCache(None, service), after_commit=lambda: None, policy=fast))
    await broker.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            env = make_envelope(CHECKED.ce_type, "urn:uise:signature", KEY["participant_id"])
            await producer.send_and_wait(CHECKED.name, checked(sid).model_dump_json().encode(),
                                         key=KEY["participant_id"].encode(),
                                         headers=[(k, v.encode()) for k, v in env.headers().items()])
        finally:
            await producer.stop()
        await eventually(lambda: state(intake_db, sid)[0] == "rejected")
    finally:
        await broker.stop()
    status, reason, [(step, detail)] = state(intake_db, sid)
    assert (status, reason, step) == ("rejected", "PROCESSING_FAILED", "rejected")
    assert detail["stage"] == "validation" and detail["error_type"] == "ValueError"
    assert detail["failure"] == "deterministic"
    assert len(attempts) <= 2  # the batch's attempt and its own: no retries
